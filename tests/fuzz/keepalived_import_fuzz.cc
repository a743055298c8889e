// Fuzz target: quoratectl import-keepalived's lexer, parser and converter on any text. A broken
// file must give "FILE:LINE: what"; a file that parses must convert without an exception into
// YAML that reads back as a mapping.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <exception>
#include <string>

#include "client/keepalived/convert.h"
#include "client/keepalived/parser.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace quorate;
  const std::string path = "/nonexistent-quorate-fuzz/keepalived.conf";
  keepalived::Limits limits;
  limits.includes = false;  // the fuzzer reads no files
  const auto parsed = keepalived::parseText(fuzz::text(data, size), path, limits);
  if (!parsed) {
    const std::string what = parsed.status().what();
    fuzz::check(what.rfind(path + ":", 0) == 0, "an error without FILE:LINE: " + what);
    return 0;
  }
  try {
    const keepalived::Imported imported = keepalived::convert(*parsed, {});
    for (const std::string* yaml :
         {&imported.directorYaml, &imported.peerYaml, &imported.arbiterYaml}) {
      const YAML::Node root = YAML::Load(*yaml);
      fuzz::check(root.IsMap(), "the output is not a YAML mapping:\n" + *yaml);
    }
    for (const auto& f : imported.report) {
      fuzz::check(f.where.line > 0, "a finding without a line: " + f.why);
    }
  } catch (const YAML::Exception& e) {
    fuzz::fail(std::string("the output is not YAML: ") + e.what());
  } catch (const std::exception& e) {
    fuzz::fail(std::string("convert threw: ") + e.what());
  }
  return 0;
}
