// checkScriptSecurity (keepalived's enable_script_security): scripts that anyone but root or
// their user could change are refused, naming the path and its mode; sticky directories, links
// to safe files, missing files and the user's own files are accepted; a link to an unsafe file
// is refused.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "server/script_runner.h"
#include "tests/support/temp_dir.h"

namespace quorate::server {
namespace {

class ScriptSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0); }
  // A directory under the test's own, with `mode` (set after creation: umask-proof).
  std::string mkdir(const std::string& name, mode_t mode) {
    const std::string p = dir.file(name);
    std::filesystem::create_directories(p);
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    return p;
  }
  std::string script(const std::string& path, mode_t mode) {
    std::ofstream(path) << "#!/bin/sh\nexit 0\n";
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  // The error of checkScriptSecurity, "" when accepted.
  static std::string refusal(const std::string& program, const std::string& user = "") {
    const Status st = checkScriptSecurity(program, user);
    return st ? "" : st.what();
  }

  testutil::TempDir dir{"quorate-script-security"};
};

TEST_F(ScriptSecurityTest, AcceptsASafeScript) {
  const std::string p = script(mkdir("safe", 0755) + "/hook.sh", 0755);
  EXPECT_EQ(refusal(p), "");
  EXPECT_EQ(refusal("/bin/sh"), "");
  EXPECT_EQ(refusal("true"), "");  // found on the scripts' PATH
}

TEST_F(ScriptSecurityTest, RefusesAWorldWritableFile) {
  const std::string p = script(mkdir("safe", 0755) + "/hook.sh", 0757);
  EXPECT_EQ(refusal(p), "script " + p + " refused: file " + p +
                            " is writable by others (mode 0757); only root or the script's user "
                            "may change a script");
}

TEST_F(ScriptSecurityTest, RefusesAFileInAWorldWritableDirectory) {
  const std::string d = mkdir("open", 0777);
  const std::string p = script(d + "/hook.sh", 0755);
  EXPECT_NE(refusal(p).find("directory " + d + " is writable by others (mode 0777)"),
            std::string::npos)
      << refusal(p);
  // Deeper down too: every directory above the script counts.
  const std::string deep = mkdir("open/sub", 0755);
  const std::string q = script(deep + "/hook.sh", 0755);
  EXPECT_NE(refusal(q).find("directory " + d + " is writable by others"), std::string::npos);
}

TEST_F(ScriptSecurityTest, RefusesAGroupWritableDirectoryOfAnotherGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  const std::string d = mkdir("group", 0775);
  ASSERT_EQ(::chown(d.c_str(), static_cast<uid_t>(-1), 65534), 0);
  const std::string p = script(d + "/hook.sh", 0755);
  EXPECT_NE(refusal(p).find("directory " + d + " is writable by group 65534 (mode 0775)"),
            std::string::npos)
      << refusal(p);
  // Group root may write.
  ASSERT_EQ(::chown(d.c_str(), static_cast<uid_t>(-1), 0), 0);
  EXPECT_EQ(refusal(p), "");
}

TEST_F(ScriptSecurityTest, AcceptsAStickyDirectoryButNotAStickyWritableFile) {
  const std::string d = mkdir("sticky", 01777);
  EXPECT_EQ(refusal(script(d + "/hook.sh", 0755)), "");
  EXPECT_NE(refusal(script(d + "/open.sh", 01757)).find("is writable by others (mode 1757)"),
            std::string::npos);
}

TEST_F(ScriptSecurityTest, ChecksWhatALinkPointsTo) {
  const std::string open = mkdir("open", 0777);
  const std::string target = script(open + "/real.sh", 0755);
  const std::string safe = mkdir("safe", 0755);
  const std::string link = safe + "/hook.sh";
  std::filesystem::create_symlink(target, link);
  const std::string why = refusal(link);
  EXPECT_NE(why.find("it resolves to " + target), std::string::npos) << why;
  EXPECT_NE(why.find("directory " + open + " is writable by others"), std::string::npos) << why;
  // A link to a safe file is fine.
  std::filesystem::remove(link);
  std::filesystem::create_symlink("/bin/sh", link);
  EXPECT_EQ(refusal(link), "");
}

TEST_F(ScriptSecurityTest, AMissingScriptIsLeftToItsRuns) {
  EXPECT_EQ(refusal(mkdir("safe", 0755) + "/not-there.sh"), "");
  // ... but not when a directory above it is open to anyone (the file could appear there).
  const std::string open = mkdir("open", 0777);
  EXPECT_NE(refusal(open + "/not-there.sh").find("directory " + open), std::string::npos);
}

TEST_F(ScriptSecurityTest, OwnerMustBeRootOrTheScriptUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  const struct passwd* pw = ::getpwnam("nobody");
  if (pw == nullptr) GTEST_SKIP() << "no user nobody";
  const std::string d = mkdir("nobodys", 0755);
  const std::string p = script(d + "/hook.sh", 0755);
  ASSERT_EQ(::chown(p.c_str(), pw->pw_uid, pw->pw_gid), 0);
  // nobody may change its own script: it runs as nobody anyway.
  EXPECT_EQ(refusal(p, "nobody"), "");
  // Run as root, nobody's file would be a way up.
  EXPECT_NE(refusal(p, "root").find("file " + p + " is owned by nobody (uid " +
                                    std::to_string(pw->pw_uid) + ") (mode 0755)"),
            std::string::npos)
      << refusal(p, "root");
  EXPECT_NE(refusal(p, "root").find("(runs as root)"), std::string::npos);
}

TEST_F(ScriptSecurityTest, UnknownUserIsAnError) {
  EXPECT_EQ(refusal("/bin/sh", "quorate-no-such-user"), "unknown user 'quorate-no-such-user'");
}

TEST(DefaultScriptUser, IsQuorateScriptOrNobodyForRoot) {
  const std::string user = defaultScriptUser();
  if (::geteuid() != 0) {
    EXPECT_EQ(user, "");
  } else if (::getpwnam("quorate_script") != nullptr) {
    EXPECT_EQ(user, "quorate_script");
  } else {
    EXPECT_EQ(user, "nobody");
  }
}

}  // namespace
}  // namespace quorate::server
