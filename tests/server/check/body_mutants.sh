#!/bin/sh
# Breaks each bound of the HTTP(S) body path on purpose (one sed mutant at a time, restored from
# git afterwards) and checks that body_limits_test.cc catches it.
# Usage: body_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: body_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail. keep-body holds the body as the code
# before the streaming did; body-limit brings back its 16 MiB cap; first-chunk hashes only the
# first 16 KiB; no-chunking hands the hash the whole buffer each time, whatever was filled.
mutants='
keep-body@server/check/http_probe.cc@s/self->bodyBytes_ += filled;/self->bodyBytes_ += filled; self->kept_.append(self->chunk_.data(), filled);/; s/std::uint64_t bodyBytes_ = 0;/std::uint64_t bodyBytes_ = 0; std::string kept_;/@BigBodyTest.ContentLength*:BigBodyTest.Chunked*:BigBodyTest.Without*
body-limit@server/check/http_probe.cc@s/parser_->body_limit(std::numeric_limits<std::uint64_t>::max());/parser_->body_limit(16 * 1024 * 1024);/@BigBodyTest.ContentLength*:BigBodyTest.Chunked*
first-chunk@server/check/http_probe.cc@s/if (self->md5_) self->md5_->update/if (self->md5_ \&\& self->bodyBytes_ == filled) self->md5_->update/@BigBodyTest.*Chunked*:BigBodyTest.TheProbe*
whole-chunk@server/check/http_probe.cc@s/std::string_view(self->chunk_.data(), filled)/std::string_view(self->chunk_.data(), self->chunk_.size())/@BigBodyTest.Chunked*:BigBodyTest.TheProbe*
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" quorate_check_body_tests 300 "$@"
