# The fuzzing build (-DQUORATE_FUZZ=ON, clang only; scripts/fuzz.sh makes it in build-fuzz).
#
# Every target of the tree is compiled with libFuzzer's coverage hooks and ASan + UBSan, so that
# the parsing code a fuzz target links is both guided and checked; only the fuzz targets
# (tests/fuzz) link libFuzzer's main. Off, this file changes nothing.
option(QUORATE_FUZZ "Build the libFuzzer targets of tests/fuzz (needs clang)" OFF)

if(QUORATE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "QUORATE_FUZZ needs clang (e.g. -DCMAKE_CXX_COMPILER=clang++-14)")
  endif()
  if(QUORATE_SANITIZE)
    message(FATAL_ERROR "QUORATE_FUZZ brings its own sanitizers: leave QUORATE_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "quorate: fuzzing build (libFuzzer, ASan, UBSan)")
endif()
