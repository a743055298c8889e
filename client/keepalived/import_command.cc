// quoratectl import-keepalived (import_command.h): options, then parse, convert and write.
#include "client/keepalived/import_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "client/keepalived/convert.h"
#include "client/keepalived/parser.h"

namespace quorate::keepalived {
namespace {

bool validName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Why `path` may not be written without --force ("" when nothing is there): an earlier import
// is never overwritten by mistake.
std::string inTheWay(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0)
    return path + ": " + std::strerror(EEXIST) + " (--force overwrites)";
  return "";
}

// Writes a whole new file (O_EXCL). With `force`, what is there goes first: a symbolic link is
// removed, never written through, so a link planted in a shared directory cannot aim the import
// at another file.
std::string writeFile(const std::string& path, const std::string& text, bool force) {
  if (force && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return path + ": " + std::strerror(errno);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    return path + ": " + std::strerror(errno) + (errno == EEXIST ? " (--force overwrites)" : "");
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return path + ": " + std::strerror(err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return path + ": " + std::strerror(errno);
  return "";
}

}  // namespace

void addImportCommand(CLI::App& app, ImportCommandOptions& options,
                      std::function<void()> selected) {
  CLI::App* cmd = app.add_subcommand(
      "import-keepalived",
      "Convert a keepalived.conf into quorate director and arbiter files, with a report of "
      "every keyword not mapped (reads files only, no RPC)");
  cmd->add_option("FILE", options.file, "keepalived.conf (its includes are followed)")->required();
  cmd->add_option("-o,--out-dir", options.outDir,
                  "Write NODE.yaml, PEER.yaml, arbiter.yaml and import-report.txt here (default: "
                  "the director file on stdout, the report on stderr)")
      ->type_name("DIR");
  cmd->add_option("--cluster", options.cluster,
                  "Cluster id, the same for both directors and the arbiter (default keepalived)")
      ->type_name("NAME");
  cmd->add_option("--node", options.node, "This keepalived's director (default alpha)")
      ->type_name("NAME");
  cmd->add_option("--peer", options.peer, "The other director (default beta)")->type_name("NAME");
  cmd->add_option("--secret-file", options.secretFile,
                  "The cluster key's path in the files (default /etc/quorate/CLUSTER.secret)")
      ->type_name("PATH");
  cmd->add_option("--config-id", options.configId,
                  "keepalived's -i: lines \"@ID ...\" apply, \"@^ID ...\" do not (default: no "
                  "id, so every @ID line is left out)")
      ->type_name("ID");
  cmd->add_flag("--force", options.force, "Overwrite files in --out-dir");
  cmd->callback(std::move(selected));
}

int runImportCommand(const ImportCommandOptions& options, std::ostream& out, std::ostream& err) {
  for (const auto* name : {&options.node, &options.peer}) {
    if (!validName(*name)) {
      err << "quoratectl: import-keepalived: director names are 1 to 64 of A-Z a-z 0-9 . _ -, "
             "not \""
          << *name << "\"" << std::endl;
      return 2;
    }
  }
  if (options.node == options.peer || options.node == "arbiter" || options.peer == "arbiter") {
    err << "quoratectl: import-keepalived: --node and --peer must differ from each other and "
           "from the arbiter's id (arbiter)"
        << std::endl;
    return 2;
  }
  if (!options.cluster.empty() && !validName(options.cluster)) {
    err << "quoratectl: import-keepalived: --cluster: 1 to 64 of A-Z a-z 0-9 . _ -, not \""
        << options.cluster << "\"" << std::endl;
    return 2;
  }
  Limits limits;
  limits.configId = options.configId;
  Result<Config> parsed = parseFile(options.file, limits);
  if (!parsed) {
    err << "quoratectl: " << parsed.status().what() << std::endl;
    return 1;
  }
  ImportOptions io;
  io.cluster = options.cluster;
  io.node = options.node;
  io.peer = options.peer;
  io.secretFile = options.secretFile;
  io.source = options.file;
  const Imported imported = convert(*parsed, io);
  const std::string report = formatReport(imported);
  if (options.outDir.empty()) {
    out << imported.directorYaml << std::flush;
    err << report << std::flush;
    return 0;
  }
  const std::filesystem::path dir(options.outDir);
  // A missing directory is made (its parent must exist); anything else in its place is named.
  if (::mkdir(options.outDir.c_str(), 0755) != 0 && errno != EEXIST) {
    err << "quoratectl: import-keepalived: --out-dir " << options.outDir << ": "
        << std::strerror(errno) << std::endl;
    return 1;
  }
  if (struct stat st{}; ::stat(options.outDir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    err << "quoratectl: import-keepalived: --out-dir " << options.outDir << ": not a directory"
        << std::endl;
    return 1;
  }
  const std::pair<std::string, const std::string*> files[] = {
      {options.node + ".yaml", &imported.directorYaml},
      {options.peer + ".yaml", &imported.peerYaml},
      {"arbiter.yaml", &imported.arbiterYaml},
      {"import-report.txt", &report}};
  // All refused before any is written: a half import would trip the next run.
  for (const auto& [name, text] : files) {
    if (const std::string problem = inTheWay((dir / name).string());
        !options.force && !problem.empty()) {
      err << "quoratectl: import-keepalived: " << problem << std::endl;
      return 1;
    }
  }
  for (const auto& [name, text] : files) {
    if (const std::string problem = writeFile((dir / name).string(), *text, options.force);
        !problem.empty()) {
      err << "quoratectl: import-keepalived: " << problem << std::endl;
      return 1;
    }
  }
  out << report;
  out << "wrote " << (dir / (options.node + ".yaml")).string() << ", "
      << (dir / (options.peer + ".yaml")).string() << ", " << (dir / "arbiter.yaml").string()
      << ", " << (dir / "import-report.txt").string() << std::endl;
  return 0;
}

}  // namespace quorate::keepalived
