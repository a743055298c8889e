# Build options of the whole tree: warnings as an interface target, -Werror, sanitizers.
#
#   -DQUORATE_WERROR=ON                       warnings are errors (CI and scripts/test.sh)
#   -DQUORATE_SANITIZE=address,undefined      ASan + UBSan (any -fsanitize= list GCC takes)
#   -DQUORATE_SANITIZE=thread                 TSan (not together with address)
#   -DQUORATE_HARDEN=OFF                      no stack protector, FORTIFY, PIE, RELRO/BIND_NOW

option(QUORATE_WERROR "Treat compiler warnings as errors" OFF)
set(QUORATE_SANITIZE "" CACHE STRING
  "Sanitizers for every target, as -fsanitize= takes them (address,undefined or thread)")

# The project's warnings. Linked by every target of the tree (quorate_link_warnings below), so
# a target of the project never builds without them and code from elsewhere never gets them.
add_library(quorate_warnings INTERFACE)
target_compile_options(quorate_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Werror=return-type)
if(QUORATE_WERROR)
  target_compile_options(quorate_warnings INTERFACE -Werror)
endif()

# Hardening of every binary (Debian's hardening-wrapper set plus CET and stack-clash): the
# director parses replies of real servers as root, so a memory bug there must be hard to use.
# Global, like the sanitizers: a library built without it would leave holes in the binaries.
# tests/hardening checks the result with readelf.
option(QUORATE_HARDEN "Stack protector, FORTIFY, PIE, full RELRO and BIND_NOW, CET" ON)
if(QUORATE_HARDEN)
  add_compile_options(-fstack-protector-strong -fstack-clash-protection)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|i.86")
    add_compile_options(-fcf-protection)
  endif()
  # FORTIFY needs optimisation (glibc warns without it) and fights ASan's interceptors.
  if(NOT QUORATE_SANITIZE)
    add_compile_options(
      "$<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:-U_FORTIFY_SOURCE;-D_FORTIFY_SOURCE=2>")
  endif()
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  include(CheckPIESupported)
  check_pie_supported(LANGUAGES CXX)
  add_link_options(LINKER:-z,relro LINKER:-z,now)
endif()

# Sanitizers apply to the whole program, generated code included: a half-instrumented binary
# gives false reports (ASan's container checks) or misses races (TSan), so they are global.
if(QUORATE_SANITIZE)
  string(REPLACE "," ";" quorate_sanitizers "${QUORATE_SANITIZE}")
  if("thread" IN_LIST quorate_sanitizers AND "address" IN_LIST quorate_sanitizers)
    message(FATAL_ERROR "QUORATE_SANITIZE: thread and address cannot be combined")
  endif()
  add_compile_options(-fsanitize=${QUORATE_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${QUORATE_SANITIZE})
  if("undefined" IN_LIST quorate_sanitizers)
    # A finding fails the test instead of scrolling past in its output.
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
  # GCC's manual warns that sanitizers raise false -Wmaybe-uninitialized reports (here: inside
  # libstdc++'s <regex> under ASan), which QUORATE_WERROR would turn into errors.
  target_compile_options(quorate_warnings INTERFACE -Wno-maybe-uninitialized)
  message(STATUS "quorate: sanitizers ${QUORATE_SANITIZE}")
endif()

# Every library and executable defined under DIR (recursively), not the imported ones.
function(quorate_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    quorate_collect_targets(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Links quorate_warnings into every compiled target of the tree (privately: nothing of it
# reaches a target's users): called once, after the last add_subdirectory, so a target added
# anywhere gets the warnings without a line of its own.
# Generated code (quorate_proto builds protoc's output with -w) is left out.
function(quorate_link_warnings)
  quorate_collect_targets(${PROJECT_SOURCE_DIR} targets)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY|MODULE_LIBRARY)$")
      continue()
    endif()
    get_target_property(generated ${t} QUORATE_GENERATED_CODE)
    if(generated)
      continue()
    endif()
    # First in the link list, so that the warning flags come first on the command line, where
    # a global add_compile_options() put them (-pthread and the like follow).
    get_target_property(libs ${t} LINK_LIBRARIES)
    if(NOT libs)
      set(libs "")
    endif()
    set_property(TARGET ${t} PROPERTY LINK_LIBRARIES quorate_warnings ${libs})
  endforeach()
endfunction()

# Boost 1.74's Asio turns co_await on for clang only with <experimental/coroutine> (libc++),
# though clang 14 has C++20 coroutines with libstdc++'s <coroutine> too (Asio already picks that
# header). For the test folders whose servers are coroutines (tests/server/check, tests/client):
# only there, so that the rest of the clang build keeps its command lines (and its cache).
function(quorate_asio_coroutines)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 14)
    add_compile_definitions(BOOST_ASIO_HAS_CO_AWAIT=1)
    # clang 14 cannot emit coroutines under UBSan's vptr and function checks ("Cannot represent
    # a difference across sections"): those two are off for these test files only.
    if(QUORATE_FUZZ OR QUORATE_SANITIZE MATCHES "undefined")
      add_compile_options(-fno-sanitize=vptr,function)
    endif()
  endif()
endfunction()
