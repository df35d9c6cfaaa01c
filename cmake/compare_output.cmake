# cmake -DPROGRAM=<exe> -DEXPECTED=<file> [-DARGS=<;-list>] -P compare_output.cmake
# Runs PROGRAM and fails unless it exits 0 and its stdout equals EXPECTED
# byte for byte. stderr is passed through and not compared.
if(NOT DEFINED PROGRAM OR NOT DEFINED EXPECTED)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=exe -DEXPECTED=file "
                      "[-DARGS=a;b] -P compare_output.cmake")
endif()

execute_process(COMMAND ${PROGRAM} ${ARGS}
                OUTPUT_VARIABLE actual
                ERROR_VARIABLE errors
                RESULT_VARIABLE status)
if(errors)
  message("${errors}")
endif()
if(NOT status STREQUAL "0")
  message(FATAL_ERROR "${PROGRAM} exited with '${status}'; stdout was:\n${actual}")
endif()

file(READ ${EXPECTED} expected)
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "stdout of ${PROGRAM} differs from ${EXPECTED}\n"
                      "--- expected ---\n${expected}"
                      "--- actual ---\n${actual}"
                      "--- end ---")
endif()
