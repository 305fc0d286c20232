# Installs a vmbus-sim build into a new prefix and builds and tests the
# out-of-tree project consumer/ against that prefix alone. Fails (with the
# failing command's output) at the first step that does not succeed. With
# PREFIX, the build was installed there already (the CTest fixture
# package.install_into_a_fresh_prefix) and is used as it is.
#   cmake -DBUILD_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=... -DGENERATOR=...
#         -DC_COMPILER=... -DCXX_COMPILER=... [-DCOMPILER_LAUNCHER=...]
#         [-DPREFIX=...] -P install_then_build_out_of_tree.cmake
foreach(variable BUILD_DIR CONSUMER_DIR WORK_DIR GENERATOR C_COMPILER CXX_COMPILER)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "install_then_build_out_of_tree: ${variable} is not set")
  endif()
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/run_step.cmake)

set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
if(DEFINED PREFIX)
  set(prefix ${PREFIX})
else()
  set(prefix ${WORK_DIR}/prefix)
  run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
endif()

set(launcher "")
if(COMPILER_LAUNCHER)
  set(launcher -DCMAKE_C_COMPILER_LAUNCHER=${COMPILER_LAUNCHER}
               -DCMAKE_CXX_COMPILER_LAUNCHER=${COMPILER_LAUNCHER})
endif()
# CMAKE_PREFIX_PATH is the only way the consumer learns where vmbus-sim is.
run("configure the out-of-tree project"
    ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${build} -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} ${launcher})
run("build it" ${CMAKE_COMMAND} --build ${build})

# The driver exports its entry point and interface version and nothing
# else, and takes every KMCL function from the program that loads it.
file(GLOB driver ${build}/libecho_vsc.so)
if(NOT driver)
  message(FATAL_ERROR "the out-of-tree build made no libecho_vsc.so in ${build}")
endif()
run("list the driver's exports" nm -D --defined-only ${driver})
string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_]*\n" exports "${last_output}")
string(REPLACE "\n" "" exports "${exports}")
list(REMOVE_ITEM exports _init _fini)
if(NOT exports STREQUAL "VmbusSimDriverEntry;VmbusSimDriverInterfaceVersion")
  message(FATAL_ERROR "libecho_vsc.so exports '${exports}', expected the entry point and "
                      "the interface version only")
endif()
run("list the driver's imports" nm -D --undefined-only ${driver})
if(NOT last_output MATCHES "VmbChannelAllocate")
  message(FATAL_ERROR "libecho_vsc.so does not leave VmbChannelAllocate to its host:\n"
                      "${last_output}")
endif()

run("run its tests" ${CMAKE_CTEST_COMMAND} --test-dir ${build} --output-on-failure)
if(NOT last_output MATCHES "100% tests passed, 0 tests failed out of 2")
  message(FATAL_ERROR "expected the consumer's 2 tests to pass:\n${last_output}")
endif()
