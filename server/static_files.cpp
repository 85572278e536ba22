#include "static_files.h"

#include <cstdlib>
#include <cstring>

namespace p2pcall::server {

namespace {

struct MimeEntry {
  const char *suffix;
  const char *type;
};

const MimeEntry kMimeTypes[] = {
  {".html", "text/html; charset=utf-8"},
  {".js", "text/javascript; charset=utf-8"},
  {".mjs", "text/javascript; charset=utf-8"},
  {".css", "text/css; charset=utf-8"},
  {".svg", "image/svg+xml"},
  {".png", "image/png"},
  {".ico", "image/x-icon"},
  {".jpg", "image/jpeg"},
  {".jpeg", "image/jpeg"},
  {".webp", "image/webp"},
  {".gif", "image/gif"},
  {".json", "application/json"},
  {".webmanifest", "application/manifest+json"},
  {".woff2", "font/woff2"},
  {".woff", "font/woff"},
  {".ogg", "audio/ogg"},
  {".mp3", "audio/mpeg"},
  {".wav", "audio/wav"},
};

std::string
canonical (const std::string &path)
{
  char *real = realpath (path.c_str (), nullptr);
  if (!real)
    return {};
  std::string result (real);
  free (real);
  return result;
}

}  // namespace

StaticFiles::StaticFiles (std::string root)
  : root_ (canonical (root))
{
}

const char *
StaticFiles::mime_type (std::string_view file)
{
  for (const MimeEntry &e : kMimeTypes) {
    std::size_t n = strlen (e.suffix);
    if (file.size () >= n && file.compare (file.size () - n, n, e.suffix) == 0)
      return e.type;
  }
  return nullptr;
}

std::optional<std::string>
StaticFiles::resolve (std::string_view request_path) const
{
  if (root_.empty () || request_path.empty () || request_path[0] != '/')
    return std::nullopt;

  // libsoup hands the path still percent-encoded: decode it once, refusing
  // encoded NULs and slashes that could hide a traversal.
  g_autofree char *decoded = g_uri_unescape_segment (request_path.data (),
      request_path.data () + request_path.size (), "/");
  if (!decoded || strchr (decoded, '\\'))
    return std::nullopt;

  std::string path (decoded);
  // Refuse any "." or ".." segment outright, before the filesystem sees it,
  // and dotfiles (.git, .env, editor leftovers) with them.
  std::size_t start = 0;
  while (start <= path.size ()) {
    std::size_t end = path.find ('/', start);
    if (end == std::string::npos)
      end = path.size ();
    std::string_view seg (path.data () + start, end - start);
    if (!seg.empty () && seg[0] == '.')
      return std::nullopt;
    start = end + 1;
  }

  if (path.back () == '/')
    path += "index.html";
  std::string full = canonical (root_ + path);
  if (full.empty ())
    return std::nullopt;
  if (g_file_test (full.c_str (), G_FILE_TEST_IS_DIR))
    full = canonical (full + "/index.html");
  // Symlinks pointing out of the root are outside it too.
  // Only the page's own kinds of file: build files (meson.build), notes and
  // sources that happen to sit in the root are not served.
  if (full.compare (0, root_.size () + 1, root_ + "/") != 0 ||
      !g_file_test (full.c_str (), G_FILE_TEST_IS_REGULAR) ||
      !mime_type (full))
    return std::nullopt;
  return full;
}

void
StaticFiles::handle (SoupServerMessage *msg, const char *path) const
{
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers =
      soup_server_message_get_response_headers (msg);
  if (strcmp (method, SOUP_METHOD_GET) != 0 &&
      strcmp (method, SOUP_METHOD_HEAD) != 0) {
    soup_message_headers_replace (headers, "Allow", "GET, HEAD");
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        nullptr);
    return;
  }

  std::optional<std::string> file = resolve (path);
  char *data = nullptr;
  gsize length = 0;
  if (!file || !g_file_get_contents (file->c_str (), &data, &length, nullptr)) {
    static const char body[] = "404 not found\n";
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
    soup_server_message_set_response (msg, "text/plain; charset=utf-8",
        SOUP_MEMORY_STATIC, body, sizeof (body) - 1);
    return;
  }

  // The page is small and changes with the server: always revalidate.
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_server_message_set_response (msg, mime_type (*file), SOUP_MEMORY_TAKE,
      data, length);
}

}  // namespace p2pcall::server
