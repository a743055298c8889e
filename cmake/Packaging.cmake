# install() rules for the daemons, units, man pages and examples, and the Debian package
# (CPack DEB: `ninja package` or scripts/package.sh). Included once, after every target exists.
include(GNUInstallDirs)

# Everything of the package `quorate` is in this component; libquorate-client keeps its own
# (client/sdk), so `cmake --install` installs both and the .deb only the daemons.
set(QUORATE_PACKAGE_COMPONENT quorate)
# Relative to the prefix: /usr/lib/systemd/system in the package (the same as /lib/systemd/system
# on Debian's merged /usr).
set(QUORATE_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING
  "Where the systemd units are installed, relative to the prefix")

install(TARGETS quorate-director quorate-arbiter
  RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT ${QUORATE_PACKAGE_COMPONENT})
install(TARGETS quoratectl
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${QUORATE_PACKAGE_COMPONENT})
# The units name /usr/sbin/quorate-*, where the package puts them; installed under another prefix
# they need a drop-in with an empty ExecStart= and then their own.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/quorate-director.service
  ${PROJECT_SOURCE_DIR}/deploy/systemd/quorate-arbiter.service
  DESTINATION ${QUORATE_SYSTEMD_UNIT_DIR} COMPONENT ${QUORATE_PACKAGE_COMPONENT})

# Man pages: scdoc sources rendered to roff, then gzip'd as Debian installs them.
find_program(QUORATE_SCDOC scdoc)
find_program(QUORATE_GZIP gzip)
set(QUORATE_MAN_PAGES quorate-director.8 quorate-arbiter.8 quoratectl.8 quorate.yaml.5)
set(man_outputs)
if(NOT QUORATE_SCDOC OR NOT QUORATE_GZIP)
  # Not fatal: the sanitizer and fuzzing trees need no man pages. The package and its tests do,
  # and say so (tests/deploy).
  message(WARNING "no scdoc or gzip: the man pages are not built (Debian: scdoc; "
    "scripts/install-deps.sh installs it)")
  set(QUORATE_MAN_PAGES)
endif()
foreach(page IN LISTS QUORATE_MAN_PAGES)
  set(src ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd)
  set(roff ${PROJECT_BINARY_DIR}/man/${page})
  add_custom_command(OUTPUT ${roff} ${roff}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND sh -c "\"$0\" < \"$1\" > \"$2\"" ${QUORATE_SCDOC} ${src} ${roff}
    # -n: no name or time stamp inside, so the same page gives the same bytes.
    COMMAND sh -c "\"$0\" -9 -n -c \"$1\" > \"$1.gz\"" ${QUORATE_GZIP} ${roff}
    DEPENDS ${src}
    COMMENT "man page ${page}"
    VERBATIM)
  list(APPEND man_outputs ${roff} ${roff}.gz)
  string(REGEX MATCH "[0-9]$" section ${page})
  install(FILES ${roff}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section}
    COMPONENT ${QUORATE_PACKAGE_COMPONENT})
endforeach()
add_custom_target(quorate_man ALL DEPENDS ${man_outputs})

# bash completion, made by the built quoratectl from its own command tree (so it never lags a new
# subcommand), where Debian's bash-completion looks for it.
set(completion ${PROJECT_BINARY_DIR}/completion/quoratectl)
add_custom_command(OUTPUT ${completion}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/completion
  COMMAND quoratectl completion bash > ${completion}
  DEPENDS quoratectl
  COMMENT "bash completion of quoratectl")
add_custom_target(quorate_completion ALL DEPENDS ${completion})
install(FILES ${completion} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  COMPONENT ${QUORATE_PACKAGE_COMPONENT})

# Examples and documentation. deploy/ beyond examples/ (monitoring, say) goes beside them;
# the units and the maintainer scripts are installed as what they are, not as examples.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/examples/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT ${QUORATE_PACKAGE_COMPONENT})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT ${QUORATE_PACKAGE_COMPONENT}
  PATTERN examples EXCLUDE PATTERN debian EXCLUDE PATTERN systemd EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/README.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT ${QUORATE_PACKAGE_COMPONENT})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT ${QUORATE_PACKAGE_COMPONENT}
  FILES_MATCHING PATTERN "*.md" PATTERN man EXCLUDE)

# The Debian package: the component above, stripped, its library dependencies computed by
# dpkg-shlibdeps, and the maintainer scripts of deploy/debian.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME quorate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "quorate developers <dev@quorate.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "split-brain-safe high availability for LVS/IPVS directors")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "Two directors and an arbiter hold a majority lease (PaxosLease, 2 of 3) over
gRPC; only the lease holder owns the virtual IPs and programs IPVS, behind a
kernel fence that makes a frozen holder go dark by itself. This package holds
quorate-director, quorate-arbiter, quoratectl and their systemd units.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_CMAKE_PROJECTS
  "${PROJECT_BINARY_DIR};${PROJECT_NAME};${QUORATE_PACKAGE_COMPONENT};/")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Added to what dpkg-shlibdeps finds: the maintainer scripts call adduser.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "ipvsadm, nftables, fence-agents")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
  ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
