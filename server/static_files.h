// Serves the call page from a web root: GET/HEAD only, files of the page's
// own MIME types (no build files, no dotfiles), nothing outside the root,
// real 404s.
#pragma once

#include <libsoup/soup.h>

#include <optional>
#include <string>
#include <string_view>

namespace p2pcall::server {

class StaticFiles {
public:
  // @root must be an existing directory.
  explicit StaticFiles (std::string root);

  void handle (SoupServerMessage * msg, const char *path) const;

  // The file a request path maps to, or nothing when it escapes the root,
  // is malformed or does not exist. Exposed for tests.
  std::optional<std::string> resolve (std::string_view request_path) const;

  // nullptr for a file that is not of a page's kind.
  static const char *mime_type (std::string_view file);

private:
  std::string root_;            // canonical, without a trailing slash
};

}  // namespace p2pcall::server
