// Options defined once. Each OptionSpec names an option, its environment
// variable, its default, its range and its help; the command line, the
// environment and an INI file (--config FILE, read with GKeyFile) are all
// read through that one table, so a new option is one new entry.
// The command line wins over the environment, the environment over the file.
#pragma once

#include <glib.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace p2pcall::server {

enum class OptionKind {
  kText,
  kFile,       // a path; the same as kText but shown as such in --help
  kList,       // repeatable on the command line, comma-separated elsewhere
  kInteger,    // whole number within [min, max]
  kNumber,     // decimal number within [min, max]
  kDuration,   // 90s, 15m, 1h, 7d: seconds within [min, max]
  kFlag,       // no argument on the command line; true/false elsewhere
};

struct OptionSpec {
  std::string name;          // --NAME on the command line, NAME = in the file
  char short_name;           // 0 for none
  std::string env;           // environment variable, "" for none
  OptionKind kind;
  std::string default_text;  // as a user would write it; "" for unset
  double min, max;           // kInteger, kNumber, kDuration
  std::string help;          // what it does, without env and default
  std::string placeholder;   // shown in --help: PORT, FILE, ...
  bool secret;               // never printed back
};

// The section every option lives in inside a config file.
inline constexpr char kConfigGroup[] = "server";

// A number as options and metrics show it: C locale, @digits significant.
std::string format_number (double value, int digits = 6);

class Config {
public:
  explicit Config (std::vector<OptionSpec> specs);

  // Parses the command line (removing what it took), then reads
  // --config FILE (or env P2PCALL_CONFIG) when given. On failure fills
  // @error with a sentence naming the option, and for the file its line.
  bool parse (int &argc, char **&argv, const char *parameter_string,
      const char *summary, std::string &error);

  // True after --print-config: print() and exit instead of serving.
  bool print_requested () const { return print_requested_; }

  // The value that wins, as text (lists joined by commas).
  std::string text (const std::string &name) const;
  std::vector<std::string> list (const std::string &name) const;
  // Typed values; false and @error naming where the bad value came from
  // ("--port", "PORT", "FILE:LINE: port") when it is not one.
  bool integer (const std::string &name, std::int64_t &out,
      std::string &error) const;
  bool number (const std::string &name, double &out, std::string &error) const;
  bool duration (const std::string &name, std::int64_t &out,
      std::string &error) const;
  bool flag (const std::string &name, bool &out, std::string &error) const;
  // False when no source gave it (the default applies).
  bool is_set (const std::string &name) const;
  // Where the winning value came from, for messages about it.
  std::string origin (const std::string &name) const;

  // An INI file with every option: help, env and default as comments, the
  // defaults commented out, values given by any source written out (secrets
  // never). Without sources given, it is the file the package installs.
  std::string print () const;

private:
  struct Value {
    std::vector<std::string> values;
    std::string origin;   // "" for the default
  };

  const OptionSpec *find (const std::string &name) const;
  Value lookup (const OptionSpec &spec) const;
  bool read_file (const std::string &path, std::string &error);
  std::string range_error (const OptionSpec &spec, const Value &value) const;
  static gboolean on_option (const char *option_name, const char *value,
      gpointer data, GError **error);

  std::vector<OptionSpec> specs_;
  std::map<std::string, std::vector<std::string>> command_line_;
  std::map<std::string, Value> file_values_;
  bool print_requested_ = false;
};

}  // namespace p2pcall::server
