# quorate_add_test(): one call per gtest binary (build, link, discover, label, timeout).
include(GoogleTest)

# quorate_add_test(NAME target
#                  SOURCES file...
#                  LABELS label                 required, one: unit, sim, process, netns, ...;
#                                               threads: a unit test of code whose threads share
#                                               state (scripts/sanitize.sh runs those under TSan)
#                  TIMEOUT seconds              required: per test case; it only catches a hang
#                  [LIBS lib...]                GTest::gtest_main is added unless OWN_MAIN
#                  [DEFINITIONS def...]         private compile definitions
#                  [INCLUDES dir...]            private include directories
#                  [DEPENDS target...]          built first (daemons the test runs)
#                  [RESOURCE_LOCK name...]      ctest never runs two tests holding one name
#                  [DISCOVERY_MODE PRE_TEST]    list the cases at test time (binaries that need
#                                               root or a namespace to start)
#                  [TEST_PREFIX prefix]
#                  [OWN_MAIN]                   the sources define main()
#                  [VM]                         also run in the test VM (quorate_add_vm_test)
#                  [VM_ONLY])                   only run in the VM: no host test, no LABELS/TIMEOUT
# Every label a test may carry, each selected by a run of scripts/test.sh (build/: process, model,
# vm, build, resources; scripts/sanitize.sh: unit, threads, sim, netns, resources; fuzz: .ci/run).
# A test with another label would run nowhere: quorate_add_test() and the quorate_test_properties
# test refuse it.
set(QUORATE_TEST_LABELS unit threads sim netns resources process model vm build fuzz)

function(quorate_add_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "OWN_MAIN;VM;VM_ONLY"
    "NAME;TIMEOUT;DISCOVERY_MODE;TEST_PREFIX"
    "SOURCES;LIBS;LABELS;DEFINITIONS;INCLUDES;DEPENDS;RESOURCE_LOCK")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "quorate_add_test: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAME OR NOT arg_SOURCES)
    message(FATAL_ERROR "quorate_add_test: NAME and SOURCES are required")
  endif()
  if(NOT arg_VM_ONLY AND (NOT arg_LABELS OR NOT arg_TIMEOUT))
    message(FATAL_ERROR "quorate_add_test(${arg_NAME}): every test needs LABELS and a TIMEOUT")
  endif()

  add_executable(${arg_NAME} ${arg_SOURCES})
  set(libs ${arg_LIBS})
  if(NOT arg_OWN_MAIN)
    list(APPEND libs GTest::gtest_main)
  endif()
  target_link_libraries(${arg_NAME} PRIVATE ${libs})
  if(arg_DEFINITIONS)
    target_compile_definitions(${arg_NAME} PRIVATE ${arg_DEFINITIONS})
  endif()
  if(arg_INCLUDES)
    target_include_directories(${arg_NAME} PRIVATE ${arg_INCLUDES})
  endif()
  if(arg_DEPENDS)
    add_dependencies(${arg_NAME} ${arg_DEPENDS})
  endif()

  if(arg_VM OR arg_VM_ONLY)
    quorate_add_vm_test(${arg_NAME})
  endif()
  if(arg_VM_ONLY)
    return()
  endif()

  # For quorate_add_label_targets(): the binaries behind each label.
  foreach(label IN LISTS arg_LABELS)
    set_property(GLOBAL APPEND PROPERTY QUORATE_TESTS_${label} ${arg_NAME})
  endforeach()

  if(NOT arg_VM_ONLY AND NOT arg_LABELS IN_LIST QUORATE_TEST_LABELS)
    message(FATAL_ERROR "quorate_add_test(${arg_NAME}): label '${arg_LABELS}' is none of "
      "${QUORATE_TEST_LABELS}, so no run would select it")
  endif()
  if(arg_LABELS MATCHES ";")
    # gtest_discover_tests() (CMake 3.25) flattens PROPERTIES: a second label would become the
    # name of a property and the TIMEOUT its value.
    message(FATAL_ERROR "quorate_add_test(${arg_NAME}): one label per test binary")
  endif()
  set(properties LABELS "${arg_LABELS}" TIMEOUT ${arg_TIMEOUT})
  if(arg_RESOURCE_LOCK)
    list(APPEND properties RESOURCE_LOCK "${arg_RESOURCE_LOCK}")
  endif()
  set(discover_args)
  if(arg_TEST_PREFIX)
    list(APPEND discover_args TEST_PREFIX ${arg_TEST_PREFIX})
  endif()
  if(arg_DISCOVERY_MODE)
    list(APPEND discover_args DISCOVERY_MODE ${arg_DISCOVERY_MODE})
  endif()
  gtest_discover_tests(${arg_NAME} ${discover_args} PROPERTIES ${properties})
endfunction()

# One target per label, tests_<label>, that builds every gtest binary declared with that label
# (and, through their DEPENDS, the daemons they start): scripts/sanitize.sh builds only the
# suites it runs. Called once, after the last quorate_add_test().
function(quorate_add_label_targets)
  foreach(label IN ITEMS ${ARGN})
    get_property(binaries GLOBAL PROPERTY QUORATE_TESTS_${label})
    if(NOT binaries)
      message(FATAL_ERROR "quorate_add_label_targets: no test is labelled ${label}")
    endif()
    # The sanitizer canaries (tests/support) are built with the suite but do not count as one.
    get_property(canaries GLOBAL PROPERTY QUORATE_CANARIES_${label})
    add_custom_target(tests_${label} DEPENDS ${binaries} ${canaries})
  endforeach()
endfunction()
