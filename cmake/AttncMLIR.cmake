# Find MLIR/LLVM 19 and make every imported MLIR target link the static component
# archives plus static LLVMSupport/LLVMDemangle, never Debian's 129 MB libLLVM.so
# (which drags in z3, ICU and libxml2). The result is self-contained: binaries built on
# the build machine run on the GPU machine, which has no LLVM.
find_package(MLIR REQUIRED CONFIG
  HINTS /usr/lib/llvm-19/lib/cmake/mlir)
if(NOT LLVM_VERSION_MAJOR EQUAL 19)
  message(FATAL_ERROR "attnc needs LLVM/MLIR 19, found ${LLVM_PACKAGE_VERSION} (run scripts/setup.sh)")
endif()
message(STATUS "MLIR from ${MLIR_DIR} (LLVM ${LLVM_PACKAGE_VERSION})")

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddMLIR)

# Static LLVM support: only what MLIR's IR, passes and EmitC need.
set_target_properties(LLVMSupport PROPERTIES
  INTERFACE_LINK_LIBRARIES "LLVMDemangle;Threads::Threads;${CMAKE_DL_LIBS};rt;m")
find_package(Threads REQUIRED)

get_property(_attnc_imported DIRECTORY PROPERTY IMPORTED_TARGETS)
foreach(_t IN LISTS _attnc_imported)
  if(NOT _t MATCHES "^MLIR")
    continue()
  endif()
  get_target_property(_type ${_t} TYPE)
  if(NOT _type STREQUAL "STATIC_LIBRARY" AND NOT _type STREQUAL "INTERFACE_LIBRARY")
    continue()
  endif()
  get_target_property(_libs ${_t} INTERFACE_LINK_LIBRARIES)
  if(_libs)
    list(TRANSFORM _libs REPLACE "^LLVM$" "LLVMSupport")
    list(FILTER _libs EXCLUDE REGEX "^MLIR$")
    set_target_properties(${_t} PROPERTIES INTERFACE_LINK_LIBRARIES "${_libs}")
  endif()
endforeach()

# Interface target with the include paths every MLIR-using target needs.
add_library(attnc_mlir_headers INTERFACE)
target_include_directories(attnc_mlir_headers SYSTEM INTERFACE
  ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
target_compile_definitions(attnc_mlir_headers INTERFACE ${LLVM_DEFINITIONS})
