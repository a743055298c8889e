// A small program with a stack buffer and a fortifiable call, built with and without the
// hardening flags: the control for check_hardening.sh (the unhardened build must fail each check).
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s:%d", argc > 0 ? argv[0] : "", argc);
  char copy[64];
  std::memcpy(copy, buf, std::strlen(buf) + 1);
  std::puts(copy);
  return 0;
}
