#include "config.h"
#include "access_token.h"

#include <cmath>
#include <cstring>

namespace p2pcall::server {

namespace {

std::string
join (const std::vector<std::string> &parts)
{
  std::string out;
  for (const std::string &p : parts)
    out += (out.empty () ? "" : ",") + p;
  return out;
}

// Environment lists and defaults: comma-separated, blanks dropped.
std::vector<std::string>
split_list (const std::string &text)
{
  std::vector<std::string> out;
  g_auto (GStrv) parts = g_strsplit (text.c_str (), ",", -1);
  for (char **p = parts; *p; p++)
    if (*g_strstrip (*p))
      out.push_back (*p);
  return out;
}

// GKeyFile keeps no line numbers: find the key's line in the text it read,
// so an error points where the user has to look.
int
line_of_key (const std::string &text, const char *group, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (text.c_str (), "\n", -1);
  bool in_group = false;
  std::size_t key_len = strlen (key);
  for (int i = 0; lines[i]; i++) {
    const char *line = lines[i];
    while (g_ascii_isspace (*line))
      line++;
    if (*line == '[') {
      in_group = g_str_has_prefix (line + 1, group) &&
          line[1 + strlen (group)] == ']';
      continue;
    }
    if (!in_group || strncmp (line, key, key_len) != 0)
      continue;
    const char *rest = line + key_len;
    while (*rest == ' ' || *rest == '\t')
      rest++;
    if (*rest == '=')
      return i + 1;
  }
  return 0;
}

// Wraps @text into "# " lines of at most 78 columns.
std::string
comment_lines (const std::string &text)
{
  std::string out, line;
  g_auto (GStrv) words = g_strsplit (text.c_str (), " ", -1);
  for (char **w = words; *w; w++) {
    if (!line.empty () && line.size () + 1 + strlen (*w) > 76) {
      out += "# " + line + "\n";
      line.clear ();
    }
    line += (line.empty () ? "" : " ") + std::string (*w);
  }
  return out + "# " + line + "\n";
}

}  // namespace

std::string
format_number (double value, int digits)
{
  char format[8], buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_snprintf (format, sizeof (format), "%%.%dg", digits);
  return g_ascii_formatd (buf, sizeof (buf), format, value);
}

Config::Config (std::vector<OptionSpec> specs)
  : specs_ (std::move (specs))
{
}

const OptionSpec *
Config::find (const std::string &name) const
{
  for (const OptionSpec &s : specs_)
    if (s.name == name)
      return &s;
  return nullptr;
}

gboolean
Config::on_option (const char *option_name, const char *value, gpointer data,
    GError **error)
{
  Config *self = static_cast<Config *> (data);
  const OptionSpec *spec = nullptr;
  if (g_str_has_prefix (option_name, "--")) {
    spec = self->find (option_name + 2);
  } else {
    for (const OptionSpec &s : self->specs_)
      if (s.short_name && s.short_name == option_name[1])
        spec = &s;
  }
  if (!spec) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
        "unknown option %s", option_name);
    return FALSE;
  }
  std::vector<std::string> &values = self->command_line_[spec->name];
  if (spec->kind != OptionKind::kList)
    values.clear ();
  values.push_back (spec->kind == OptionKind::kFlag ? "true" : value);
  return TRUE;
}

bool
Config::parse (int &argc, char **&argv, const char *parameter_string,
    const char *summary, std::string &error)
{
  // GOptionEntry points into these; they live until parsing is over.
  std::vector<std::string> help (specs_.size ());
  std::vector<GOptionEntry> entries;
  for (std::size_t i = 0; i < specs_.size (); i++) {
    const OptionSpec &s = specs_[i];
    help[i] = s.help;
    std::string where;
    if (!s.env.empty ())
      where = "env " + s.env;
    if (!s.default_text.empty ())
      where += (where.empty () ? "" : "; ") + std::string ("default ") +
          s.default_text;
    if (!where.empty ())
      help[i] += " (" + where + ")";
    GOptionEntry e = {s.name.c_str (), s.short_name,
      s.kind == OptionKind::kFlag ? G_OPTION_FLAG_NO_ARG : 0,
      G_OPTION_ARG_CALLBACK, (gpointer) &Config::on_option, help[i].c_str (),
      s.placeholder.empty () ? nullptr : s.placeholder.c_str ()};
    if (s.kind == OptionKind::kFile)
      e.flags |= G_OPTION_FLAG_FILENAME;
    entries.push_back (e);
  }
  g_autofree char *config_path = nullptr;
  gboolean print = FALSE;
  entries.push_back ({"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
        "Read options from an INI file, in its [server] section under the "
        "names used here (env P2PCALL_CONFIG)", "FILE"});
  entries.push_back ({"print-config", 0, 0, G_OPTION_ARG_NONE, &print,
        "Print the configuration file with every option and its default, or "
        "the value given, then exit", nullptr});
  entries.push_back ({nullptr});

  g_autoptr (GOptionContext) context = g_option_context_new (parameter_string);
  if (summary)
    g_option_context_set_summary (context, summary);
  GOptionGroup *group = g_option_group_new (nullptr, nullptr, nullptr, this,
      nullptr);
  g_option_group_add_entries (group, entries.data ());
  g_option_context_set_main_group (context, group);
  g_autoptr (GError) err = nullptr;
  if (!g_option_context_parse (context, &argc, &argv, &err)) {
    error = err->message;
    return false;
  }
  print_requested_ = print;
  const char *path = config_path ? config_path : g_getenv ("P2PCALL_CONFIG");
  if (path && *path)
    return read_file (path, error);
  return true;
}

bool
Config::read_file (const std::string &path, std::string &error)
{
  g_autofree char *contents = nullptr;
  gsize length = 0;
  g_autoptr (GError) err = nullptr;
  if (!g_file_get_contents (path.c_str (), &contents, &length, &err)) {
    error = "cannot read config file: " + std::string (err->message);
    return false;
  }
  g_autoptr (GKeyFile) keys = g_key_file_new ();
  g_key_file_set_list_separator (keys, ',');
  if (!g_key_file_load_from_data (keys, contents, length, G_KEY_FILE_NONE,
          &err)) {
    error = path + ": " + err->message;
    return false;
  }
  gsize n_groups = 0;
  g_auto (GStrv) groups = g_key_file_get_groups (keys, &n_groups);
  for (char **g = groups; *g; g++) {
    if (g_strcmp0 (*g, kConfigGroup) != 0) {
      error = path + ": unknown section [" + *g + "]; options go under [" +
          kConfigGroup + "]";
      return false;
    }
  }
  if (!g_key_file_has_group (keys, kConfigGroup))
    return true;
  g_auto (GStrv) names = g_key_file_get_keys (keys, kConfigGroup, nullptr,
      nullptr);
  for (char **k = names; *k; k++) {
    int line = line_of_key (contents, kConfigGroup, *k);
    std::string origin = path + ":" + std::to_string (line) + ": " + *k;
    const OptionSpec *spec = find (*k);
    if (!spec) {
      error = origin + " is not an option";
      return false;
    }
    Value value;
    value.origin = origin;
    if (spec->kind == OptionKind::kList) {
      g_auto (GStrv) items = g_key_file_get_string_list (keys, kConfigGroup,
          *k, nullptr, &err);
      for (char **i = items; i && *i; i++)
        if (*g_strstrip (*i))
          value.values.push_back (*i);
    } else {
      g_autofree char *text = g_key_file_get_string (keys, kConfigGroup, *k,
          &err);
      if (text)
        value.values.push_back (text);
    }
    if (err) {
      error = origin + ": " + err->message;
      return false;
    }
    file_values_[*k] = std::move (value);
  }
  return true;
}

Config::Value
Config::lookup (const OptionSpec &spec) const
{
  auto cli = command_line_.find (spec.name);
  if (cli != command_line_.end ())
    return {cli->second, "--" + spec.name};
  const char *env = spec.env.empty () ? nullptr : g_getenv (spec.env.c_str ());
  if (env && *env) {
    if (spec.kind == OptionKind::kList)
      return {split_list (env), spec.env};
    return {{env}, spec.env};
  }
  auto file = file_values_.find (spec.name);
  if (file != file_values_.end ())
    return file->second;
  if (spec.kind == OptionKind::kList)
    return {split_list (spec.default_text), ""};
  if (spec.default_text.empty ())
    return {{}, ""};
  return {{spec.default_text}, ""};
}

std::string
Config::text (const std::string &name) const
{
  const OptionSpec *spec = find (name);
  g_return_val_if_fail (spec, "");
  return join (lookup (*spec).values);
}

std::vector<std::string>
Config::list (const std::string &name) const
{
  const OptionSpec *spec = find (name);
  g_return_val_if_fail (spec, std::vector<std::string> ());
  return lookup (*spec).values;
}

bool
Config::is_set (const std::string &name) const
{
  const OptionSpec *spec = find (name);
  g_return_val_if_fail (spec, false);
  return !lookup (*spec).origin.empty ();
}

std::string
Config::origin (const std::string &name) const
{
  const OptionSpec *spec = find (name);
  g_return_val_if_fail (spec, "");
  std::string where = lookup (*spec).origin;
  return where.empty () ? "--" + name : where;
}

std::string
Config::range_error (const OptionSpec &spec, const Value &value) const
{
  std::string where = value.origin.empty () ? "--" + spec.name : value.origin;
  std::string given = value.values.empty () ? "" : value.values[0];
  std::string what;
  switch (spec.kind) {
    case OptionKind::kDuration:
      what = " must be a duration such as 90s, 15m, 1h or 7d from " +
          format_number (spec.min) + " to " + format_number (spec.max) +
          " seconds";
      break;
    case OptionKind::kFlag:
      what = " must be true or false";
      break;
    default:
      what = " must be from " + format_number (spec.min) + " to " +
          format_number (spec.max);
      break;
  }
  return where + what + ", not \"" + given + "\"";
}

bool
Config::integer (const std::string &name, std::int64_t &out,
    std::string &error) const
{
  const OptionSpec *spec = find (name);
  g_return_val_if_fail (spec && spec->kind == OptionKind::kInteger, false);
  Value value = lookup (*spec);
  g_autoptr (GError) err = nullptr;
  gint64 parsed = 0;
  if (value.values.empty () ||
      !g_ascii_string_to_signed (value.values[0].c_str (), 10,
          (gint64) spec->min, (gint64) spec->max, &parsed, &err)) {
    error = range_error (*spec, value);
    return false;
  }
  out = parsed;
  return true;
}

bool
Config::number (const std::string &name, double &out, std::string &error) const
{
  const OptionSpec *spec = find (name);
  g_return_val_if_fail (spec && spec->kind == OptionKind::kNumber, false);
  Value value = lookup (*spec);
  char *end = nullptr;
  double parsed = value.values.empty () ? NAN :
      g_ascii_strtod (value.values[0].c_str (), &end);
  if (value.values.empty () || *end || value.values[0].empty () ||
      !(parsed >= spec->min && parsed <= spec->max)) {
    error = range_error (*spec, value);
    return false;
  }
  out = parsed;
  return true;
}

bool
Config::duration (const std::string &name, std::int64_t &out,
    std::string &error) const
{
  const OptionSpec *spec = find (name);
  g_return_val_if_fail (spec && spec->kind == OptionKind::kDuration, false);
  Value value = lookup (*spec);
  std::int64_t seconds = value.values.empty () ? -1 :
      parse_duration (value.values[0]);
  if (seconds < spec->min || seconds > spec->max) {
    error = range_error (*spec, value);
    return false;
  }
  out = seconds;
  return true;
}

bool
Config::flag (const std::string &name, bool &out, std::string &error) const
{
  const OptionSpec *spec = find (name);
  g_return_val_if_fail (spec && spec->kind == OptionKind::kFlag, false);
  Value value = lookup (*spec);
  std::string v = value.values.empty () ? "false" : value.values[0];
  if (v == "true" || v == "1" || v == "yes") {
    out = true;
  } else if (v == "false" || v == "0" || v == "no") {
    out = false;
  } else {
    error = range_error (*spec, value);
    return false;
  }
  return true;
}

std::string
Config::print () const
{
  std::string out =
      "# p2pcall-server configuration, read with --config FILE.\n"
      "# Every option of `p2pcall-server --help` can be set here under the\n"
      "# same name. The command line wins over the environment, the\n"
      "# environment over this file. Lists are comma-separated.\n"
      "\n[" + std::string (kConfigGroup) + "]\n";
  for (const OptionSpec &s : specs_) {
    out += "\n";
    std::string comment = s.help + ".";
    if (!s.env.empty ())
      comment += " Environment: " + s.env + ".";
    out += comment_lines (comment);
    Value value = lookup (s);
    std::string shown = s.kind == OptionKind::kFlag && s.default_text.empty () ?
        "false" : s.default_text;
    if (value.origin.empty ())
      out += "#" + s.name + " =" + (shown.empty () ? "" : " " + shown) + "\n";
    else if (s.secret)
      out += "# " + s.name + " is set (" + value.origin + "), not shown\n";
    else
      out += s.name + " = " + join (value.values) + "\n";
  }
  return out;
}

}  // namespace p2pcall::server
