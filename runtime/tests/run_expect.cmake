#===- run_expect.cmake - Run a program and check its output ----------------===#
#
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
#===------------------------------------------------------------------------===#
#
# cmake -DPROGRAM=... [-DARG1=...] [-DARG2=...] [-DARGS=a|b|...]
#       -DEXPECT_RC=N [-DEXPECT_STDOUT=a|b] [-DEXPECT_STDERR=c|d]
#       -P run_expect.cmake
# Fails unless PROGRAM exits with EXPECT_RC and its stdout/stderr contain
# every '|'-separated literal substring.
#
#===------------------------------------------------------------------------===#

if(NOT DEFINED PROGRAM OR NOT DEFINED EXPECT_RC)
  message(FATAL_ERROR "run_expect.cmake: PROGRAM and EXPECT_RC are required")
endif()
set(args)
foreach(arg IN ITEMS "${ARG1}" "${ARG2}")
  if(NOT arg STREQUAL "")
    list(APPEND args "${arg}")
  endif()
endforeach()
if(NOT "${ARGS}" STREQUAL "")
  string(REPLACE "|" ";" more "${ARGS}")
  list(APPEND args ${more})
endif()

execute_process(COMMAND "${PROGRAM}" ${args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("command: ${PROGRAM} ${args}\nexit status: ${rc}\n"
        "stdout:\n${out}\nstderr:\n${err}")

if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "expected exit status ${EXPECT_RC}, got ${rc}")
endif()

foreach(stream IN ITEMS STDOUT STDERR)
  if(stream STREQUAL "STDOUT")
    set(text "${out}")
  else()
    set(text "${err}")
  endif()
  if("${EXPECT_${stream}}" STREQUAL "")
    continue()
  endif()
  string(REPLACE "|" ";" expected "${EXPECT_${stream}}")
  foreach(substring IN LISTS expected)
    string(FIND "${text}" "${substring}" position)
    if(position EQUAL -1)
      message(FATAL_ERROR "${stream} lacks the expected text '${substring}'")
    endif()
  endforeach()
endforeach()
