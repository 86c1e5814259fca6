# Drives `attnc cache path|list|clear` against a private directory.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(run_attnc expected_regex)
  execute_process(COMMAND "${ATTNC}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "attnc ${ARGN} failed (${rc}):\n${out}${err}")
  endif()
  if(NOT out MATCHES "${expected_regex}")
    message(FATAL_ERROR "attnc ${ARGN}: output does not match '${expected_regex}':\n${out}")
  endif()
  message(STATUS "attnc ${ARGN}:\n${out}")
endfunction()

run_attnc("^${WORK}\n$" cache --dir "${WORK}" path)
run_attnc("0 entries" cache --dir "${WORK}" list)

# An entry in the runtime's format whose checksum does not match its payload.
set(ENV{ATTNC_CACHE_DIR} "${WORK}")
execute_process(COMMAND "${ATTNC}" cache path OUTPUT_VARIABLE env_path)
if(NOT env_path STREQUAL "${WORK}\n")
  message(FATAL_ERROR "ATTNC_CACHE_DIR is not honoured: ${env_path}")
endif()
string(REPEAT "0" 64 zero_key)
string(REPEAT "1" 64 one_key)
file(WRITE "${WORK}/${one_key}.cubin"
  "ATTNC-KERNEL-CACHE 1\nkey ${one_key}\narch sm_80\nname broken\nsize 3\nsha256 ${zero_key}\ncreated 1\nend\nabc")
run_attnc("broken +sm_80 .*corrupt.*1 entry" cache list)
file(WRITE "${WORK}/unrelated.txt" "keep")
run_attnc("removed 1 entry" cache clear)
run_attnc("0 entries" cache list)
if(NOT EXISTS "${WORK}/unrelated.txt")
  message(FATAL_ERROR "attnc cache clear removed a file that is not a cache entry")
endif()
