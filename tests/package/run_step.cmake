# run(STEP COMMAND...): runs COMMAND; on failure stops the script with STEP,
# the command and its output; on success leaves the output in last_output.
# Shared by the package tests' scripts (cmake -P).
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output
                  ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${step} failed (${result}):\n${ARGN}\n${output}")
  endif()
  message(STATUS "${step}: ok")
  set(last_output "${output}" PARENT_SCOPE)
endfunction()
