// Log lines for collectors: the server's messages read "EVENT key=value ...:
// detail" (for example "join room=r peer=abc members=2"). --log-format json
// writes each as one JSON object per line; under systemd the same fields go
// to the journal as EVENT=, ROOM=, PEER=, ... through structured logging.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace p2pcall::server {

enum class LogFormat { kText, kJson };

struct LogEvent {
  std::string event;   // the words before the first key=value or ':'
  std::vector<std::pair<std::string, std::string>> fields;
};

// Splits one message into its event and key=value fields (values end at a
// space, ',', ')' or a trailing ':').
LogEvent parse_log_message (const char *message);

// Installs GLib's log writer for @format; debug messages stay dropped unless
// G_MESSAGES_DEBUG asks for them, as with GLib's own writer.
void install_log_writer (LogFormat format);

}  // namespace p2pcall::server
