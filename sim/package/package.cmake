# cmake --install: what a user of vmbus-sim gets under the prefix, and the
# vmbus-sim CMake package that find_package(vmbus-sim) reads.
#
#   bin/                              vmbus-sim, vmbus-host, vmbus-guest, side by
#                                     side (vmbus-sim starts the partitions found
#                                     next to itself)
#   include/vmbus-sim/km/             the C driver API: vmbuskernelmodeclientlibapi.h,
#                                     vmbus_sim_wdm.h, vmbus_sim_driver.h
#   include/vmbus-sim/vmbus/{base,ring,kmcl}/
#                                     the C++ API of the KMCL model, to embed it
#   lib/libvmbus_{kmcl,ring,base}.a   the model and what it needs
#   lib/cmake/vmbus-sim/              the package: targets vmbus-sim::kmcl_driver
#                                     (the C headers; what a driver builds against),
#                                     vmbus-sim::kmcl (the model, to embed),
#                                     vmbus-sim::vmbus-sim (the program), and the
#                                     functions of VmbusSimDrivers.cmake
#   share/doc/vmbus-sim/              README.md, docs/DRIVERS.md, docs/SCENARIOS.md,
#                                     and examples/ (drivers in C and their scenarios,
#                                     a project that builds against this install)
#
# The package's version is the project's (CMakeLists.txt), which every
# program also prints with --version.
include(CMakePackageConfigHelpers)

set(vmbus_package_dir ${CMAKE_INSTALL_LIBDIR}/cmake/vmbus-sim)

install(TARGETS vmbus-sim vmbus-host vmbus-guest EXPORT vmbus-simTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS vmbus_kmcl vmbus_ring vmbus_base vmbus_kmcl_driver_api EXPORT vmbus-simTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sim/kmcl/include/km
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vmbus-sim)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sim/base/include/vmbus
                  ${PROJECT_SOURCE_DIR}/sim/ring/include/vmbus
                  ${PROJECT_SOURCE_DIR}/sim/kmcl/include/vmbus
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vmbus-sim)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/DRIVERS.md
              ${PROJECT_SOURCE_DIR}/docs/SCENARIOS.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/vmbus-sim)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/vmbus-sim)

# Libraries built with sanitizers need them at the embedder's link too.
if(VMBUS_SANITIZE_ADDRESS)
  set_property(TARGET vmbus_base APPEND PROPERTY INTERFACE_LINK_OPTIONS
               $<INSTALL_INTERFACE:-fsanitize=address$<COMMA>undefined>)
elseif(VMBUS_SANITIZE_THREAD)
  set_property(TARGET vmbus_base APPEND PROPERTY INTERFACE_LINK_OPTIONS
               $<INSTALL_INTERFACE:-fsanitize=thread>)
endif()

install(EXPORT vmbus-simTargets NAMESPACE vmbus-sim:: DESTINATION ${vmbus_package_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/vmbus-simConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/vmbus-simConfig.cmake
                              INSTALL_DESTINATION ${vmbus_package_dir})
# 0.x: a minor version may break drivers and scenarios, so only the same
# major.minor satisfies a request.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/vmbus-simConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/vmbus-simConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/vmbus-simConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/VmbusSimDrivers.cmake
              ${PROJECT_SOURCE_DIR}/sim/kmcl/kmcl_c_api.dynamic-list
        DESTINATION ${vmbus_package_dir})

# A Debian package of the same install: `cpack -G DEB` in a build tree
# writes vmbus-sim_<version>_<arch>.deb (programs under /usr/bin, headers,
# libraries and the CMake package under /usr). tests/package checks that it
# unpacks and runs a scenario from where it landed.
set(CPACK_PACKAGE_NAME vmbus-sim)
set(CPACK_PACKAGE_VENDOR "vmbus-sim")
set(CPACK_PACKAGE_CONTACT "vmbus-sim maintainers <vmbus-sim@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Deterministic simulator of a Hyper-V host and guest talking over VMBus")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# The programs link protobuf dynamically unless VMBUS_STATIC_RUNTIME; let
# dpkg-shlibdeps name the libraries when it is there, else say it plainly.
find_program(VMBUS_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(VMBUS_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
elseif(VMBUS_STATIC_RUNTIME)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libstdc++6, zlib1g, libc6")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libprotobuf32, libstdc++6, libc6")
endif()
include(CPack)
