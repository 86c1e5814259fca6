# Drives `attnc cache path|list|clear` against a private directory, including items that
# are not entries (a FIFO, a link to /dev/zero, directories). Every run is bounded in time
# (TIMEOUT) and memory (ulimit -v), so a read that blocks or streams fails the test.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# run_attnc_rc(RC OUT_REGEX ERR_REGEX args...): exit code RC, stdout and stderr matching.
function(run_attnc_rc expected_rc out_regex err_regex)
  execute_process(COMMAND sh -c "ulimit -v 1000000 && exec \"$0\" \"$@\"" "${ATTNC}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 30)
  if(NOT rc STREQUAL "${expected_rc}")
    message(FATAL_ERROR "attnc ${ARGN}: exit ${rc}, expected ${expected_rc}:\n${out}${err}")
  endif()
  if(NOT out MATCHES "${out_regex}")
    message(FATAL_ERROR "attnc ${ARGN}: output does not match '${out_regex}':\n${out}")
  endif()
  if(NOT err MATCHES "${err_regex}")
    message(FATAL_ERROR "attnc ${ARGN}: stderr does not match '${err_regex}':\n${err}")
  endif()
  message(STATUS "attnc ${ARGN}:\n${out}${err}")
endfunction()

function(run_attnc expected_regex)
  run_attnc_rc(0 "${expected_regex}" "^$" ${ARGN})
endfunction()

run_attnc("^${WORK}\n$" cache --dir "${WORK}" path)
run_attnc("0 entries" cache --dir "${WORK}" list)
# --dir after the subcommand, as docs/cli.md shows it.
run_attnc("^${WORK}\n$" cache path --dir "${WORK}")
run_attnc("0 entries, 0 B in ${WORK}\n$" cache list --dir "${WORK}")
run_attnc("removed 0 entries from ${WORK}\n$" cache clear --dir "${WORK}")

# An entry in the runtime's format whose checksum does not match its payload.
set(ENV{ATTNC_CACHE_DIR} "${WORK}")
execute_process(COMMAND "${ATTNC}" cache path OUTPUT_VARIABLE env_path)
if(NOT env_path STREQUAL "${WORK}\n")
  message(FATAL_ERROR "ATTNC_CACHE_DIR is not honoured: ${env_path}")
endif()
string(REPEAT "0" 64 zero_key)
string(REPEAT "1" 64 one_key)
file(WRITE "${WORK}/${one_key}.cubin"
  "ATTNC-KERNEL-CACHE 2\nkey ${one_key}\narch sm_80\nname broken\nmanifest 0\nsize 3\nsha256 ${zero_key}\ncreated 1\nend\nabc")
run_attnc("broken +sm_80 .*corrupt: checksum mismatch.*1 entry" cache list)
file(WRITE "${WORK}/unrelated.txt" "keep")
run_attnc("removed 1 entry from" cache clear)
run_attnc("0 entries" cache list)
if(NOT EXISTS "${WORK}/unrelated.txt")
  message(FATAL_ERROR "attnc cache clear removed a file that is not a cache entry")
endif()

# Items named like entries that are not regular files: listed without size, never opened
# (a FIFO would block the open, /dev/zero would stream without end).
string(REPEAT "a" 64 fifo_key)
string(REPEAT "b" 64 link_key)
string(REPEAT "c" 64 dir_key)
execute_process(COMMAND mkfifo "${WORK}/${fifo_key}.cubin" RESULT_VARIABLE fifo_rc)
if(NOT fifo_rc EQUAL 0)
  message(FATAL_ERROR "mkfifo failed")
endif()
file(CREATE_LINK /dev/zero "${WORK}/${link_key}.cubin" SYMBOLIC)
file(MAKE_DIRECTORY "${WORK}/${dir_key}.cubin/inside")
file(WRITE "${WORK}/${one_key}.cubin" "not an entry at all")
run_attnc("1111111111111111 +\\? +\\? +19 B .*corrupt: not an attnc cache entry" cache list)
set(dash "- +- +- +- +")
run_attnc("aaaaaaaaaaaaaaaa +${dash}not an entry \\(a FIFO; ignored\\)" cache list)
run_attnc("bbbbbbbbbbbbbbbb +${dash}not an entry \\(a symbolic link; ignored\\)" cache list)
run_attnc("cccccccccccccccc +${dash}not an entry \\(a directory; ignored\\)" cache list)
run_attnc("\n1 entry, 19 B in ${WORK}; 3 other items ignored\n$" cache list)

# clear removes every item it can (a link, never its target), goes on past the non-empty
# directory it cannot remove, names it and exits 4.
run_attnc_rc(4 "removed 1 entry and 2 other items from"
  "attnc: error: cannot remove '${WORK}/${dir_key}.cubin': Directory not empty" cache clear)
run_attnc("\n0 entries, 0 B in ${WORK}; 1 other item ignored\n$" cache list)
if(NOT EXISTS "${WORK}/unrelated.txt" OR NOT EXISTS "${WORK}/${dir_key}.cubin/inside")
  message(FATAL_ERROR "attnc cache clear removed something that is not a cache entry")
endif()
if(NOT EXISTS /dev/zero)
  message(FATAL_ERROR "attnc cache clear followed a link")
endif()
