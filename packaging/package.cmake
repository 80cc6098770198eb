# What `cmake --install` puts where, and the Debian package cpack makes of it
# (scripts/package.sh). With the prefix /usr: the binaries in /usr/bin, the man pages,
# the systemd unit, the docs.
include(GNUInstallDirs)
install(TARGETS ecifs ecifs-runc ecifsctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Man pages installed gzipped, as Debian's policy has them (-n: no name or time inside,
# so the package is the same from one build to the next).
set(ecifs_man_pages)
foreach(page ecifs.8 ecifs-runc.8 ecifsctl.8)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" gzip ${CMAKE_SOURCE_DIR}/man/${page} ${CMAKE_BINARY_DIR}/man/${page}.gz
    DEPENDS ${CMAKE_SOURCE_DIR}/man/${page} VERBATIM)
  list(APPEND ecifs_man_pages ${CMAKE_BINARY_DIR}/man/${page}.gz)
endforeach()
add_custom_target(man_pages ALL DEPENDS ${ecifs_man_pages})
install(FILES ${ecifs_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
# With the prefix /usr: /usr/lib/systemd/system, where systemd looks for a package's
# units (on Debian 12, /lib is /usr/lib).
install(FILES packaging/ecifs.service DESTINATION lib/systemd/system)
install(FILES README.md docs/restart.md docs/sysctl.md docs/engines.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The recipes for Docker, Podman, containerd and Kubernetes (README, "With Docker ...").
install(DIRECTORY packaging/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ecifs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "ecifs developers <ecifs@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "container-scoped /proc and /sys views (FUSE) and a seccomp trapper for runc")
set(CPACK_PACKAGE_DESCRIPTION "ecifs gives each container run by ecifs-runc (a drop-in for runc) emulated
/proc and /sys files showing its own memory, CPUs, uptime, load and sysctls, and answers the
syscalls a filesystem cannot (mounting procfs inside the container, sysinfo) through seccomp
user notification. The daemon runs as the ecifs service.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
# The libraries' packages found by dpkg-shlibdeps, and what the binaries run.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "runc, fuse3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
    ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
