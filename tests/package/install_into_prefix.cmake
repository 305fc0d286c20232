# Installs a vmbus-sim build into PREFIX, emptied first: the fixture the
# out-of-tree package tests build against.
#   cmake -DBUILD_DIR=... -DPREFIX=... -P install_into_prefix.cmake
foreach(variable BUILD_DIR PREFIX)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "install_into_prefix: ${variable} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${result}):\n${output}")
endif()
foreach(file bin/vmbus-sim bin/vmbus-host bin/vmbus-guest lib/cmake/vmbus-sim/vmbus-simConfig.cmake
             include/vmbus-sim/km/vmbus_sim_driver.h share/doc/vmbus-sim/examples/CMakeLists.txt)
  if(NOT EXISTS ${PREFIX}/${file})
    message(FATAL_ERROR "the install has no ${file}")
  endif()
endforeach()
