#include "logging.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace p2pcall::server {

namespace {

LogFormat log_format = LogFormat::kText;

const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "error";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "message";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

const char *
field_text (const GLogField *fields, gsize n_fields, const char *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, key) == 0)
      return fields[i].length < 0 ? (const char *) fields[i].value : nullptr;
  return nullptr;
}

bool
is_count (const std::string &text)
{
  if (text.empty () || text.size () > 15)
    return false;
  for (char c : text)
    if (!g_ascii_isdigit (c))
      return false;
  return true;
}

void
write_json (GLogLevelFlags level, const char *message, const LogEvent &event)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *time = g_date_time_format_iso8601 (now);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, time);
  json_builder_set_member_name (b, "level");
  json_builder_add_string_value (b, level_name (level));
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, event.event.c_str ());
  for (auto &[key, value] : event.fields) {
    // "peer" and "room" as the protocol names them; numbers as numbers.
    json_builder_set_member_name (b, key.c_str ());
    if (is_count (value))
      json_builder_add_int_value (b, g_ascii_strtoll (value.c_str (), nullptr,
              10));
    else
      json_builder_add_string_value (b, value.c_str ());
  }
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  g_autofree char *line = json_generator_to_data (gen, nullptr);
  // One write per line, so lines from a crash handler or another thread
  // never interleave inside a JSON object.
  std::string out = std::string (line) + "\n";
  if (write (STDERR_FILENO, out.data (), out.size ()) < 0)
    return;
}

// The journal gets EVENT=, ROOM=, PEER=, ... next to GLib's own fields.
GLogWriterOutput
write_journal (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
    const LogEvent &event)
{
  std::vector<GLogField> all (fields, fields + n_fields);
  std::vector<std::string> keys;
  keys.reserve (event.fields.size () + 1);
  keys.push_back ("EVENT");
  all.push_back ({"EVENT", event.event.c_str (), -1});
  for (auto &[key, value] : event.fields) {
    g_autofree char *upper = g_ascii_strup (key.c_str (), -1);
    keys.push_back (upper);
    all.push_back ({keys.back ().c_str (), value.c_str (), -1});
  }
  return g_log_writer_journald (level, all.data (), all.size (), nullptr);
}

GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
    gpointer)
{
  const char *domain = field_text (fields, n_fields, "GLIB_DOMAIN");
  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  const char *message = field_text (fields, n_fields, "MESSAGE");
  LogEvent event = parse_log_message (message ? message : "");
  if (log_format == LogFormat::kJson) {
    write_json (level, message ? message : "", event);
    return G_LOG_WRITER_HANDLED;
  }
  if (g_log_writer_is_journald (STDERR_FILENO) &&
      write_journal (level, fields, n_fields, event) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (level, fields, n_fields, nullptr);
}

}  // namespace

LogEvent
parse_log_message (const char *message)
{
  LogEvent event;
  g_auto (GStrv) words = g_strsplit (message, " ", -1);
  bool in_event = true;
  for (char **w = words; *w; w++) {
    const char *word = *w;
    while (*word == '(')
      word++;
    const char *eq = strchr (word, '=');
    if (eq && eq != word) {
      in_event = false;
      std::string value (eq + 1, strcspn (eq + 1, " ,)"));
      if (!value.empty () && value.back () == ':')
        value.pop_back ();
      event.fields.emplace_back (std::string (word, eq - word), value);
      continue;
    }
    if (!in_event)
      continue;
    std::string text (word);
    bool ends = !text.empty () && text.back () == ':';
    if (ends)
      text.pop_back ();
    if (!text.empty ())
      event.event += (event.event.empty () ? "" : " ") + text;
    if (ends)
      in_event = false;
  }
  return event;
}

void
install_log_writer (LogFormat format)
{
  log_format = format;
  g_log_set_writer_func (writer, nullptr, nullptr);
}

}  // namespace p2pcall::server
