// The bash completion script of quoratectl, generated from its CLI11 definition.
#include "client/completion.h"

#include <set>
#include <sstream>
#include <vector>

namespace quorate::client {
namespace {

// Options whose value is a path: bash offers file names after them.
bool takesFile(const CLI::Option& o) {
  const std::string type = o.get_type_name();
  return type == "FILE" || type == "PATH" || type == "DIR";
}

std::vector<std::string> namesOf(const CLI::Option& o) {
  std::vector<std::string> out;
  for (const auto& l : o.get_lnames()) out.push_back("--" + l);
  for (const auto& s : o.get_snames()) out.push_back("-" + s);
  return out;
}

struct Level {
  std::string path;  // "" for the top, "realserver setup" for a nested subcommand
  std::vector<std::string> subcommands;
  std::vector<std::string> options;
};

void collect(const CLI::App& app, const std::string& path, std::vector<Level>& levels,
             std::set<std::string>& valued, std::set<std::string>& files) {
  Level level{path, {}, {}};
  for (const CLI::App* sub : app.get_subcommands({})) level.subcommands.push_back(sub->get_name());
  for (const CLI::Option* o : app.get_options()) {
    const auto names = namesOf(*o);
    if (names.empty()) continue;  // a positional argument
    for (const auto& n : names) {
      level.options.push_back(n);
      if (o->get_type_size() != 0) valued.insert(n);
      if (takesFile(*o)) files.insert(n);
    }
  }
  levels.push_back(level);
  for (const CLI::App* sub : app.get_subcommands({})) {
    collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), levels, valued,
            files);
  }
}

std::string words(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

}  // namespace

std::string bashCompletion(const CLI::App& app) {
  std::vector<Level> levels;
  std::set<std::string> valued, files;
  collect(app, "", levels, valued, files);
  // Global options (the top level's) are accepted after any subcommand too (fallthrough).
  const std::vector<std::string> global = levels.front().options;
  const std::string name = app.get_name();
  std::ostringstream s;
  s << "# bash completion for " << name << " (" << name << " completion bash)\n";
  s << "_" << name << "_subcommands() {\n  case \"$1\" in\n";
  for (const auto& l : levels) {
    if (!l.subcommands.empty())
      s << "    \"" << l.path << "\") echo \"" << words(l.subcommands) << "\" ;;\n";
  }
  s << "  esac\n}\n";
  s << "_" << name << "_options() {\n  case \"$1\" in\n";
  for (const auto& l : levels) {
    std::vector<std::string> all = l.options;
    if (!l.path.empty()) all.insert(all.end(), global.begin(), global.end());
    s << "    \"" << l.path << "\") echo \"" << words(all) << "\" ;;\n";
  }
  s << "  esac\n}\n";
  s << "_" << name << "() {\n"
    << "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    << "  local valued=\" " << words({valued.begin(), valued.end()}) << " \"\n"
    << "  local files=\" " << words({files.begin(), files.end()}) << " \"\n"
    << "  local path=\"\" word i skip=0\n"
    << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
    << "    word=${COMP_WORDS[i]}\n"
    << "    if ((skip)); then skip=0; continue; fi\n"
    << "    if [[ $valued == *\" $word \"* ]]; then skip=1; continue; fi\n"
    << "    if [[ \" $(_" << name << "_subcommands \"$path\") \" == *\" $word \"* ]]; then\n"
    << "      path=${path:+$path }$word\n"
    << "    fi\n"
    << "  done\n"
    << "  if [[ $files == *\" $prev \"* ]]; then\n"
    << "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
    << "    return\n"
    << "  fi\n"
    << "  if [[ $valued == *\" $prev \"* ]]; then\n"
    << "    COMPREPLY=()\n"
    << "    return\n"
    << "  fi\n"
    << "  if [[ $cur == -* ]]; then\n"
    << "    COMPREPLY=($(compgen -W \"$(_" << name << "_options \"$path\")\" -- \"$cur\"))\n"
    << "  else\n"
    << "    COMPREPLY=($(compgen -W \"$(_" << name << "_subcommands \"$path\")\" -- \"$cur\"))\n"
    << "  fi\n"
    << "}\n"
    << "complete -F _" << name << " " << name << "\n";
  return s.str();
}

}  // namespace quorate::client
