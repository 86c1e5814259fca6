# attnc_raw_string_pieces(TEXT DELIMITER OUT): TEXT as adjacent C++ raw string literals
# R"DELIMITER(...)DELIMITER" of at most 30000 characters each (far from any compiler's
# limit), or "" for an empty text. Fails when TEXT contains the closing delimiter.
# Shared by the embedding scripts (runtime/cmake/EmbedSources.cmake, compiler/cmake/EmbedText.cmake).
function(attnc_raw_string_pieces text delimiter out)
  if(text MATCHES "\\)${delimiter}\"")
    message(FATAL_ERROR "the text contains the raw-string delimiter )${delimiter}\"")
  endif()
  string(LENGTH "${text}" length)
  set(pieces "")
  set(offset 0)
  while(offset LESS length)
    string(SUBSTRING "${text}" ${offset} 30000 piece)
    string(APPEND pieces "R\"${delimiter}(${piece})${delimiter}\"\n")
    math(EXPR offset "${offset} + 30000")
  endwhile()
  if(pieces STREQUAL "")
    set(pieces "\"\"\n")
  endif()
  set(${out} "${pieces}" PARENT_SCOPE)
endfunction()
