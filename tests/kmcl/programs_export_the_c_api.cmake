# Every function and object the KMCL C headers declare is defined by the
# programs that host drivers, and exported to the libraries they load: the
# headers promise nothing the programs do not have.
#   cmake "-DHEADERS=a.h;b.h" "-DPROGRAMS=vmbus-guest;vmbus-host" -P programs_export_the_c_api.cmake
set(declared "")
foreach(header IN LISTS HEADERS)
  file(READ "${header}" text)
  # "FN_VMB_CHANNEL_ALLOCATE VmbChannelAllocate;", "NTSTATUS KmclQueryInterface(",
  # "EXTERN_C KIRQL KeGetCurrentIrql(", "extern const GUID KMCL_CLIENT_INTERFACE_TYPE;".
  # (No ';' in the patterns: CMake would split the matches into list items there.)
  string(REGEX MATCHALL
         "\nFN_[A-Z_]+ [A-Za-z]+|\n[A-Z_ ]+ (Kmcl|Ke)[A-Za-z]+\\(|\nextern const GUID [A-Z_]+"
         declarations "${text}")
  foreach(declaration IN LISTS declarations)
    string(REGEX MATCH "[A-Za-z_]+\\(?$" name "${declaration}")
    string(REPLACE "(" "" name "${name}")
    list(APPEND declared ${name})
  endforeach()
endforeach()
list(LENGTH declared count)
if(count LESS 45)
  message(FATAL_ERROR "found only ${count} declarations in ${HEADERS}: ${declared}")
endif()
foreach(program IN LISTS PROGRAMS)
  execute_process(COMMAND nm -D --defined-only ${program} OUTPUT_VARIABLE symbols
                  RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "nm -D ${program} failed")
  endif()
  foreach(name IN LISTS declared)
    if(NOT symbols MATCHES " ${name}\n")
      message(FATAL_ERROR "${program} does not export ${name}, which the C header declares")
    endif()
  endforeach()
endforeach()
message(STATUS "${count} declarations, exported by every program: ${declared}")
