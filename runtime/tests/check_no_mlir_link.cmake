#===- check_no_mlir_link.cmake - Check for MLIR/LLVM dependencies ----------===#
#
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
#===------------------------------------------------------------------------===#
#
# cmake "-DFILES=a|b" -DREADELF=path -DLDD=path -P check_no_mlir_link.cmake
# Fails if any ELF file in FILES needs (DT_NEEDED, per readelf -d) or loads
# (per ldd, transitively) a libMLIR* or libLLVM* library. Also fails if the
# tools produce no recognizable output, so that the check cannot pass
# vacuously.
#
#===------------------------------------------------------------------------===#

string(REPLACE "|" ";" files "${FILES}")
if(NOT files OR (NOT READELF AND NOT LDD))
  message(FATAL_ERROR "check_no_mlir_link.cmake: FILES and READELF or LDD "
                      "are required")
endif()

set(forbidden "lib(MLIR|LLVM)[A-Za-z0-9_.+-]*")
foreach(file IN LISTS files)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "${file} does not exist")
  endif()
  if(READELF)
    execute_process(COMMAND "${READELF}" -d "${file}"
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR NOT out MATCHES "\\(NEEDED\\)")
      message(FATAL_ERROR "readelf -d ${file} failed or listed no DT_NEEDED "
                          "entries (${rc}):\n${out}${err}")
    endif()
    if(out MATCHES "${forbidden}")
      message(FATAL_ERROR "${file} has DT_NEEDED ${CMAKE_MATCH_0}:\n${out}")
    endif()
    message("${file}: DT_NEEDED entries are free of MLIR/LLVM")
  endif()
  if(LDD)
    execute_process(COMMAND "${LDD}" "${file}"
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR NOT out MATCHES "libc\\.so")
      message(FATAL_ERROR "ldd ${file} failed or did not list libc (${rc}):"
                          "\n${out}${err}")
    endif()
    if(out MATCHES "${forbidden}")
      message(FATAL_ERROR "${file} loads ${CMAKE_MATCH_0}:\n${out}")
    endif()
    message("${file}: ldd lists no MLIR/LLVM library")
  endif()
endforeach()
