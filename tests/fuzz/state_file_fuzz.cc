// Fuzz target: the acceptor state file as found on disk. Any content loads or gives an error
// naming the file; a state that loads is saved and loaded again unchanged.
#include <cstdint>
#include <fstream>
#include <string>

#include "common/state_file.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace quorate;
  static const std::string dir = fuzz::scratchDirectory("state-file");
  const std::string path = dir + "/lb.state";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) fuzz::fail("cannot write " + path);
  }
  const StateFile file(path);
  const auto loaded = file.load();
  if (!loaded) {
    fuzz::check(loaded.status().what().starts_with(path), "a state file error not naming the file");
    return 0;
  }
  if (const Status saved = file.save(*loaded); !saved) fuzz::fail("save: " + saved.message());
  const auto again = file.load();
  fuzz::check(again.isOk(), "a saved state does not load");
  fuzz::check(*again == *loaded, "a state changed through save and load");
  return 0;
}
