# Functions of the vmbus-sim package for projects that write drivers and
# scenarios. Included by vmbus-simConfig.cmake; docs/DRIVERS.md shows them in
# use.

# vmbus_sim_add_driver(<name> SOURCES <file>... [LINK_LIBRARIES <item>...])
#
# Builds a driver: a MODULE library lib<name>.so from C (C11) or C++ sources
# that include <vmbuskernelmodeclientlibapi.h> and <vmbus_sim_driver.h>. Its
# symbols are hidden except the two the loader looks up (the entry point and
# the interface version); the KMCL functions stay undefined until the program
# that loads it provides them.
function(vmbus_sim_add_driver name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK_LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "vmbus_sim_add_driver(${name}): no SOURCES")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "vmbus_sim_add_driver(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE vmbus-sim::kmcl_driver ${ARG_LINK_LIBRARIES})
  set_target_properties(${name} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                                           C_VISIBILITY_PRESET hidden
                                           CXX_VISIBILITY_PRESET hidden)
endfunction()

# vmbus_sim_add_scenario_tests(DIRECTORY <dir> [PREFIX <name>] [LABELS <label>...]
#                              [DRIVERS <target>...] [ARGS <vmbus-sim run argument>...]
#                              [TIMEOUT <seconds>])
#
# Registers every scenario (*.textproto) under <dir> (relative to the
# current source directory) as a CTest test "<prefix>/<path without
# .textproto>" (prefix "scenario" by default) that runs the installed
# `vmbus-sim run` on it: it passes when the scenario passes. DRIVERS are
# driver targets (vmbus_sim_add_driver) the scenarios name by file name
# ("libmyvsc.so"): their folders become --driver-dir. ARGS are added to each
# run (e.g. --seed 7); LABELS (default "scenario") and TIMEOUT (default 300)
# are the tests' properties.
function(vmbus_sim_add_scenario_tests)
  cmake_parse_arguments(ARG "" "DIRECTORY;PREFIX;TIMEOUT" "LABELS;ARGS;DRIVERS" ${ARGN})
  if(NOT ARG_DIRECTORY)
    message(FATAL_ERROR "vmbus_sim_add_scenario_tests: DIRECTORY is required")
  endif()
  if(NOT ARG_PREFIX)
    set(ARG_PREFIX scenario)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS scenario)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  get_filename_component(dir "${ARG_DIRECTORY}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  file(GLOB_RECURSE files CONFIGURE_DEPENDS "${dir}/*.textproto")
  if(NOT files)
    message(FATAL_ERROR "vmbus_sim_add_scenario_tests: no *.textproto scenario under ${dir}")
  endif()
  list(SORT files)
  set(driver_dirs "")
  foreach(driver IN LISTS ARG_DRIVERS)
    list(APPEND driver_dirs "$<TARGET_FILE_DIR:${driver}>")
  endforeach()
  if(driver_dirs)
    list(JOIN driver_dirs ":" driver_dirs)
    list(PREPEND ARG_ARGS --driver-dir "${driver_dirs}")
  endif()
  foreach(file IN LISTS files)
    file(RELATIVE_PATH relative "${dir}" "${file}")
    string(REGEX REPLACE "\\.textproto$" "" name "${relative}")
    # --shard 1/1: one test is one whole run, even when CTest itself runs in a
    # sharded CI job whose variables vmbus-sim would otherwise honour.
    add_test(NAME ${ARG_PREFIX}/${name}
             COMMAND $<TARGET_FILE:vmbus-sim::vmbus-sim> run --quiet --jobs 1 --shard 1/1
                     ${ARG_ARGS} ${file}
             WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    set_tests_properties(${ARG_PREFIX}/${name} PROPERTIES LABELS "${ARG_LABELS}"
                                                          TIMEOUT ${ARG_TIMEOUT})
  endforeach()
endfunction()

# vmbus_sim_export_kmcl_to_drivers(<target>)
#
# For a program that embeds the KMCL model (vmbus-sim::kmcl) and loads
# drivers with vmbus::kmcl::load_driver: exports the KMCL C API, and nothing
# else of the program, to the libraries it loads.
function(vmbus_sim_export_kmcl_to_drivers target)
  target_link_libraries(${target} PRIVATE vmbus-sim::kmcl)
  target_link_options(${target} PRIVATE "LINKER:--undefined=VmbChannelAllocate"
                      "LINKER:--dynamic-list=${CMAKE_CURRENT_FUNCTION_LIST_DIR}/kmcl_c_api.dynamic-list")
endfunction()
