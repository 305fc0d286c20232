# Configures examples/ as an out-of-tree project against an installed
# vmbus-sim (PREFIX only), builds its drivers and runs their scenarios
# through CTest. Fails (with the failing command's output) at the first step
# that does not succeed.
#   cmake -DEXAMPLES_DIR=... -DWORK_DIR=... -DPREFIX=... -DGENERATOR=...
#         -DC_COMPILER=... [-DCOMPILER_LAUNCHER=...] -P examples_out_of_tree.cmake
foreach(variable EXAMPLES_DIR WORK_DIR PREFIX GENERATOR C_COMPILER)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "examples_out_of_tree: ${variable} is not set")
  endif()
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/run_step.cmake)

file(REMOVE_RECURSE ${WORK_DIR})
set(launcher "")
if(COMPILER_LAUNCHER)
  set(launcher -DCMAKE_C_COMPILER_LAUNCHER=${COMPILER_LAUNCHER})
endif()
run("configure examples/" ${CMAKE_COMMAND} -S ${EXAMPLES_DIR} -B ${WORK_DIR} -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_C_COMPILER=${C_COMPILER}
    ${launcher})
run("build the example drivers" ${CMAKE_COMMAND} --build ${WORK_DIR})
run("run the examples' scenarios" ${CMAKE_CTEST_COMMAND} --test-dir ${WORK_DIR}
    --output-on-failure)
# Every scenario of examples/ is a test, and every one passed.
file(GLOB_RECURSE scenarios ${EXAMPLES_DIR}/*.textproto)
list(LENGTH scenarios count)
if(count EQUAL 0 OR NOT last_output MATCHES "100% tests passed, 0 tests failed out of ${count}\n")
  message(FATAL_ERROR "expected the ${count} scenarios of examples/ to pass:\n${last_output}")
endif()
