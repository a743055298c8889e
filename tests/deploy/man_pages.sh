#!/bin/bash
# Checks the four man pages the build renders from docs/man: groff reports no warning for any of
# them, each program's page names every option its --help lists (quoratectl's commands included),
# and quorate.yaml(5) names every top-level key the director and arbiter parsers accept, plus the
# agreed metrics: and log_target:. Skipped (exit 77) without man or groff.
#   man_pages.sh [--broken] MAN_DIR SOURCE_DIR DIRECTOR ARBITER QUORATECTL
# --broken: the control; one copy of the pages gets an undefined groff macro, another loses an
# option, a command and a config key, and each check must report its plant (exit 0 when all
# were).
set -u
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
  echo "SKIP: man or groff is not installed (Debian: man-db, groff-base)"
  exit 77
fi
man_dir=$1 source_dir=$2 director=$3 arbiter=$4 quoratectl=$5
pages=(quorate-director.8 quorate-arbiter.8 quoratectl.8 quorate.yaml.5)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# groff's warnings go to stderr while man still exits 0: any line there is a finding.
check_warnings() { # DIR
  local status=0 page out
  for page in "${pages[@]}"; do
    if [[ ! -f $1/$page ]]; then
      echo "$page: missing"
      status=1
      continue
    fi
    out=$(man --warnings -E UTF-8 -l -Tutf8 "$1/$page" 2>&1 >/dev/null)
    if [[ -n $out ]]; then
      echo "$page: groff warnings:"
      echo "$out"
      status=1
    fi
  done
  return $status
}

# The page as text, one line per paragraph (no hyphenation, no line breaks inside words).
text_of() { groff -man -Tutf8 -rLL=2000n -rHY=0 "$1" 2>/dev/null | col -bx; }

# Every --option in the help texts must appear in the page.
check_options() { # PAGE HELP_TEXT
  local text status=0 option
  text=$(text_of "$1")
  for option in $(grep -oE -- '(^|[ ,])--[a-z][a-z-]*' <<<"$2" | grep -oE -- '--[a-z-]+' |
    sort -u); do
    if ! grep -qF -- "$option" <<<"$text"; then
      echo "$(basename "$1"): does not name $option"
      status=1
    fi
  done
  return $status
}

# Keys between a parser's doc.root({ and the line that closes it.
root_keys() { sed -n '/doc\.root({/,/})/p' "$1" | sed '/})/q' | grep -oE '"[a-z_]+"' | tr -d '"'; }

check_keys() { # PAGE
  local text status=0 key
  text=$(text_of "$1")
  for key in $(
    root_keys "$source_dir/server/config.cc"
    root_keys "$source_dir/arbiter/config.cc"
    echo metrics log_target
  ); do
    if ! grep -qE "(^|[^a-z_])$key([^a-z_]|$)" <<<"$text"; then
      echo "$(basename "$1"): does not name the key $key"
      status=1
    fi
  done
  return $status
}

# quoratectl's commands, from its help: a new one must be in the page with its options.
ctl_help=$("$quoratectl" --help)
commands=$(sed -n '/^Subcommands:/,$p' <<<"$ctl_help" | awk 'NR > 1 && NF {print $1}')
[[ -n $commands ]] || {
  echo "quoratectl --help lists no commands"
  exit 1
}
for command in $commands; do
  ctl_help+=$'\n'$("$quoratectl" "$command" --help)
done

check_commands() { # PAGE
  local text status=0 command
  text=$(text_of "$1")
  for command in $commands; do
    grep -qE "^ +$command( |$)" <<<"$text" || {
      echo "$(basename "$1"): does not describe the command $command"
      status=1
    }
  done
  return $status
}

check_all() { # DIR
  local status=0
  check_warnings "$1" || status=1
  check_options "$1/quorate-director.8" "$("$director" --help)" || status=1
  check_options "$1/quorate-arbiter.8" "$("$arbiter" --help)" || status=1
  check_options "$1/quoratectl.8" "$ctl_help" || status=1
  check_commands "$1/quoratectl.8" || status=1
  check_keys "$1/quorate.yaml.5" || status=1
  return $status
}

if ((!broken)); then
  check_all "$man_dir" && echo "man pages: no groff warning, every option, command and key named"
  exit
fi

# The plants, one copy each.
mkdir "$tmp/macro" "$tmp/option"
cp "${pages[@]/#/$man_dir/}" "$tmp/macro/"
cp "${pages[@]/#/$man_dir/}" "$tmp/option/"
echo '.nosuchmacro planted' >>"$tmp/macro/quorate-arbiter.8"
sed -i 's/clear\\-hold/clear\\-h0ld/g; s/clear-hold/clear-h0ld/g' "$tmp/option/quoratectl.8"
sed -i 's/^\\fBevents\\fR/\\fBevent\\fR/' "$tmp/option/quoratectl.8"
sed -i 's/script_user/script_usr/g' "$tmp/option/quorate.yaml.5"
grep -q h0ld "$tmp/option/quoratectl.8" && grep -q script_usr "$tmp/option/quorate.yaml.5" || {
  echo "the plants did not take"
  exit 1
}
out=$(check_all "$tmp/macro")
grep -q "quorate-arbiter.8: groff warnings" <<<"$out" || {
  echo "the planted undefined macro was not reported: $out"
  exit 1
}
out=$(check_all "$tmp/option")
grep -q "quoratectl.8: does not name --clear-hold" <<<"$out" || {
  echo "the dropped --clear-hold was not reported: $out"
  exit 1
}
grep -q "quoratectl.8: does not describe the command events" <<<"$out" || {
  echo "the renamed events command was not reported: $out"
  exit 1
}
grep -q "quorate.yaml.5: does not name the key script_user" <<<"$out" || {
  echo "the dropped script_user was not reported: $out"
  exit 1
}
echo "the planted macro, option, command and key were reported, as they must be"
