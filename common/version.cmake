# quorate_version: the build's version, source commit and peer protocol version (version.h).
# Included from common/CMakeLists.txt; the values are also cached for the tests that check them.

set(commit unknown)
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    OUTPUT_VARIABLE described RESULT_VARIABLE described_rc
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(described_rc EQUAL 0 AND described)
    set(commit ${described})
  endif()
endif()
set(QUORATE_GIT_COMMIT ${commit} CACHE INTERNAL "git describe of the source tree at configure time")

# The wire version is the proto package's: one number, kept where the protocol is defined.
set(proto_file ${PROJECT_SOURCE_DIR}/proto/quorate/v1/quorate.proto)
# (The line's ";" would split a CMake string: match up to it.)
file(STRINGS ${proto_file} package_line REGEX "^package quorate\\.v[0-9]+;")
if(NOT package_line MATCHES "^package quorate\\.v([0-9]+)")
  message(FATAL_ERROR
    "${proto_file}: no line \"package quorate.vN;\" to take the protocol version from")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${proto_file})
set(QUORATE_PROTOCOL_VERSION ${CMAKE_MATCH_1} CACHE INTERNAL
  "the peer protocol's version (quorate.vN)")

configure_file(${CMAKE_CURRENT_LIST_DIR}/version.cc.in ${CMAKE_CURRENT_BINARY_DIR}/version.cc @ONLY)
add_library(quorate_version STATIC ${CMAKE_CURRENT_BINARY_DIR}/version.cc)
target_include_directories(quorate_version PUBLIC ${PROJECT_SOURCE_DIR})
