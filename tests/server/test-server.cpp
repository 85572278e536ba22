// p2pcall-server as users meet it: the real binary on a free loopback port,
// real WebSocket and HTTP clients (libsoup).
#include "protocol.h"

#include <libsoup/soup.h>
#include <sys/prctl.h>

#include <csignal>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace proto = p2pcall::protocol;

// LeakSanitizer hook (sanitizer run only): no leak check of this test
// process itself. Its TLS test loads GnuTLS, and GCC 12's LeakSanitizer
// then sometimes cannot stop the world at exit ("Tracer caught signal 11"),
// which failed the test after every check had passed. The servers it starts
// are the program under test: they are still checked
// (tests/sanitizers/check-reports.py).
extern "C" __attribute__ ((visibility ("default"), used)) int
__lsan_is_turned_off (void)
{
  return 1;
}

namespace {

constexpr gint64 kWaitUs = 10 * G_USEC_PER_SEC;

// Iterates the default main context until @done or the wait runs out.
template <typename F>
bool
wait_for (F done, gint64 timeout_us = kWaitUs)
{
  gint64 until = g_get_monotonic_time () + timeout_us;
  while (!done ()) {
    if (g_get_monotonic_time () > until)
      return false;
    g_main_context_iteration (nullptr, FALSE) || (g_usleep (1000), true);
  }
  return true;
}

// A web root made for the test, with a secret beside it.
struct WebRoot {
  char *dir;
  std::string root;

  WebRoot ()
  {
    dir = g_dir_make_tmp ("p2pcall-web-XXXXXX", nullptr);
    root = std::string (dir) + "/web";
    g_mkdir_with_parents ((root + "/sub").c_str (), 0755);
    write ("web/index.html", "<!doctype html><title>call</title>");
    write ("web/app.js", "export const x = 1;");
    write ("web/styles.css", "body{}");
    write ("web/favicon.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
    write ("web/sub/index.html", "sub index");
    write ("secret.txt", "SECRET");
    // Not the page's: build files, notes, dotfiles.
    write ("web/meson.build", "SECRET install_data()");
    write ("web/NOTES.md", "SECRET notes");
    write ("web/.hidden", "SECRET");
    write ("web/.env.js", "SECRET");
    g_mkdir_with_parents ((std::string (dir) + "/web/.git").c_str (), 0755);
    write ("web/.git/config.json", "SECRET");
  }

  ~WebRoot ()
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
    g_assert_cmpint (system (cmd), ==, 0);
    g_free (dir);
  }

  void write (const char *rel, const char *text)
  {
    std::string path = std::string (dir) + "/" + rel;
    g_assert_true (g_file_set_contents (path.c_str (), text, -1, nullptr));
  }
};

// Every server in this file serves this one; created in main().
WebRoot *test_web_root = nullptr;

// The server binary, started with extra arguments, stopped on destruction.
class ServerProcess {
public:
  explicit ServerProcess (std::vector<std::string> extra = {})
  {
    std::string web_root = test_web_root->root;
    std::vector<const char *> argv = {
      g_getenv ("P2PCALL_SERVER"), "--address", "127.0.0.1", "--port", "0",
      "--ice-server", "none",
    };
    argv.push_back ("--web-root");
    argv.push_back (web_root.c_str ());
    for (auto &e : extra)
      argv.push_back (e.c_str ());
    argv.push_back (nullptr);

    g_autoptr (GError) err = nullptr;
    g_autoptr (GSubprocessLauncher) launcher =
        g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    // The server goes with the test, even when an assertion aborts it.
    g_subprocess_launcher_set_child_setup (launcher, +[] (gpointer) {
          prctl (PR_SET_PDEATHSIG, SIGTERM);
        }, nullptr, nullptr);
    proc_ = g_subprocess_launcher_spawnv (launcher, argv.data (), &err);
    g_assert_no_error (err);
    g_autoptr (GDataInputStream) out = g_data_input_stream_new (
        g_subprocess_get_stdout_pipe (proc_));
    g_autofree char *line = g_data_input_stream_read_line (out, nullptr,
        nullptr, &err);
    g_assert_no_error (err);
    g_assert_nonnull (line);
    const char *url = strstr (line, "://");
    g_assert_nonnull (url);
    tls_ = g_str_has_prefix (line + (url - line) - 5, "https");
    const char *colon = strrchr (url, ':');
    port_ = (guint) atoi (colon + 1);
    g_assert_cmpuint (port_, >, 0);
    cancel_ = g_cancellable_new ();
    g_subprocess_wait_async (proc_, cancel_, on_exit, this);
  }

  ~ServerProcess ()
  {
    g_cancellable_cancel (cancel_);
    if (!exited_) {
      g_subprocess_send_signal (proc_, SIGTERM);
      g_subprocess_wait (proc_, nullptr, nullptr);
    }
    g_object_unref (cancel_);
    g_object_unref (proc_);
  }

  // False once the server has exited (crashed, for these tests).
  bool running ()
  {
    for (int i = 0; i < 10; i++)
      g_main_context_iteration (nullptr, FALSE);
    return !exited_;
  }

  guint port () const { return port_; }

  std::string ws_url (const char *path = "/ws") const
  {
    return std::string (tls_ ? "wss" : "ws") + "://127.0.0.1:" +
        std::to_string (port_) + path;
  }

private:
  static void on_exit (GObject *source, GAsyncResult *res, gpointer data)
  {
    g_autoptr (GError) err = nullptr;
    if (!g_subprocess_wait_finish (G_SUBPROCESS (source), res, &err) &&
        g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      return;                   // the ServerProcess is gone
    static_cast<ServerProcess *> (data)->exited_ = true;
  }

  GSubprocess *proc_ = nullptr;
  GCancellable *cancel_ = nullptr;
  bool exited_ = false;
  bool tls_ = false;
  guint port_ = 0;
};

// A WebSocket client that queues what it receives.
class Client {
public:
  struct Options {
    const char *path = "/ws";
    const char *origin = nullptr;
    // For wss: the one certificate to trust.
    GTlsCertificate *trust = nullptr;
  };

  Client (const ServerProcess &server) : Client (server, Options ()) {}
  Client (const ServerProcess &server, const char *path)
    : Client (server, Options { path }) {}

  Client (const ServerProcess &server, const Options &options)
  {
    session_ = soup_session_new ();
    g_autoptr (SoupMessage) msg = soup_message_new ("GET",
        server.ws_url (options.path).c_str ());
    if (options.origin)
      soup_message_headers_replace (soup_message_get_request_headers (msg),
          "Origin", options.origin);
    if (options.trust)
      g_signal_connect (msg, "accept-certificate", G_CALLBACK (+[] (SoupMessage *,
                  GTlsCertificate *cert, GTlsCertificateFlags,
                  GTlsCertificate *trust) -> gboolean {
            return g_tls_certificate_is_same (cert, trust);
          }), options.trust);
    soup_session_websocket_connect_async (session_, msg, nullptr, nullptr,
        G_PRIORITY_DEFAULT, nullptr, on_connected, this);
    g_assert_true (wait_for ([this] { return ws_ || failed_; }));
    if (!ws_)
      return;
    soup_websocket_connection_set_max_incoming_payload_size (ws_, 0);
    g_signal_connect (ws_, "message", G_CALLBACK (on_message), this);
    g_signal_connect (ws_, "closed", G_CALLBACK (+[] (SoupWebsocketConnection *,
                Client *c) { c->closed_ = true; }), this);
  }

  ~Client ()
  {
    if (ws_) {
      g_signal_handlers_disconnect_by_data (ws_, this);
      if (soup_websocket_connection_get_state (ws_) ==
          SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (ws_, proto::kCloseNormal, nullptr);
      g_object_unref (ws_);
    }
    g_object_unref (session_);
  }

  void send (const std::string &text)
  {
    soup_websocket_connection_send_text (ws_, text.c_str ());
  }

  proto::JsonObjectPtr next (gint64 timeout_us = kWaitUs)
  {
    if (!wait_for ([this] { return !inbox_.empty (); }, timeout_us))
      return nullptr;
    std::string text = inbox_.front ();
    inbox_.pop_front ();
    proto::ParseError err;
    return proto::parse_message (text, err);
  }

  proto::JsonObjectPtr expect (const char *type)
  {
    proto::JsonObjectPtr msg = next ();
    if (!msg)
      g_error ("expected \"%s\", got nothing", type);
    if (g_strcmp0 (proto::get_string (msg.get (), "type"), type) != 0)
      g_error ("expected \"%s\", got %s", type, proto::to_json (msg.get ()).c_str ());
    return msg;
  }

  void expect_error (const char *code)
  {
    proto::JsonObjectPtr msg = expect (proto::kError);
    g_assert_cmpstr (proto::get_string (msg.get (), "code"), ==, code);
  }

  // True when nothing arrives for a while.
  bool quiet (gint64 for_us = 200000)
  {
    return !wait_for ([this] { return !inbox_.empty (); }, for_us);
  }

  std::string join (const char *room, const char *name = "")
  {
    send (proto::build_join (room, name, ""));
    proto::JsonObjectPtr joined = expect (proto::kJoined);
    return proto::get_string (joined.get (), "id");
  }

  bool wait_closed () { return wait_for ([this] { return closed_; }); }
  bool connected () const { return ws_ != nullptr; }
  const std::string &connect_error () const { return error_; }
  SoupWebsocketConnection *ws () { return ws_; }

private:
  static void on_connected (GObject *source, GAsyncResult *res, gpointer data)
  {
    auto *self = static_cast<Client *> (data);
    g_autoptr (GError) err = nullptr;
    self->ws_ = soup_session_websocket_connect_finish (SOUP_SESSION (source),
        res, &err);
    self->failed_ = self->ws_ == nullptr;
    if (err)
      self->error_ = err->message;
  }

  static void on_message (SoupWebsocketConnection *, gint type, GBytes *data,
      Client *self)
  {
    gsize size = 0;
    const char *text = (const char *) g_bytes_get_data (data, &size);
    self->inbox_.emplace_back (text, size);
  }

  SoupSession *session_ = nullptr;
  SoupWebsocketConnection *ws_ = nullptr;
  bool failed_ = false;
  bool closed_ = false;
  std::string error_;
  std::deque<std::string> inbox_;
};

// The original app's exchange, on both endpoints it may connect to.
void
seed_exchange (const char *path)
{
  ServerProcess server;
  Client a (server, path), b (server, path);
  a.send ("{\"type\":\"join-room\",\"roomId\":\"myroom123\"}");
  std::string ida = proto::get_string (a.expect (proto::kJoined).get (), "id");
  b.send ("{\"type\":\"join-room\",\"roomId\":\"myroom123\"}");
  std::string idb = proto::get_string (b.expect (proto::kJoined).get (), "id");
  proto::JsonObjectPtr joined = a.expect (proto::kUserJoined);
  g_assert_cmpstr (proto::get_string (joined.get (), "from"), ==, idb.c_str ());

  a.send ("{\"type\":\"offer\",\"offer\":{\"type\":\"offer\",\"sdp\":\"o\"}}");
  proto::JsonObjectPtr offer = b.expect (proto::kOffer);
  g_assert_cmpstr (proto::get_string (offer.get (), "from"), ==, ida.c_str ());
  b.send ("{\"type\":\"answer\",\"answer\":{\"type\":\"answer\",\"sdp\":\"a\"}}");
  a.expect (proto::kAnswer);
  b.send ("{\"type\":\"ice-candidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}}");
  a.expect (proto::kIceCandidate);
  soup_websocket_connection_close (b.ws (), proto::kCloseNormal, nullptr);
  proto::JsonObjectPtr gone = a.expect (proto::kUserDisconnected);
  g_assert_cmpstr (proto::get_string (gone.get (), "from"), ==, idb.c_str ());
}

void
test_seed_exchange_at_ws (void)
{
  seed_exchange ("/ws");
}

void
test_seed_exchange_at_root (void)
{
  seed_exchange ("/");
}

void
test_bad_input_leaves_others_alone (void)
{
  ServerProcess server;
  Client a (server), b (server), bad (server);
  a.join ("r");
  b.join ("r");
  a.expect (proto::kUserJoined);

  bad.send ("{{{{");
  bad.expect_error (proto::kErrBadMessage);
  bad.send ("{\"type\":\"offer\",\"offer\":{\"sdp\":\"x\"}}");
  bad.expect_error (proto::kErrNotInRoom);
  soup_websocket_connection_send_binary (bad.ws (), "\x01\x02", 2);
  bad.expect_error (proto::kErrBadMessage);
  bad.join ("r");
  bad.send (proto::build_join ("r", "", ""));
  bad.expect_error (proto::kErrAlreadyInRoom);
  a.expect (proto::kUserJoined);
  b.expect (proto::kUserJoined);

  // The others still talk.
  a.send (proto::build_description (proto::kOffer, "still", ""));
  g_assert_nonnull (b.expect (proto::kOffer).get ());
  g_assert_true (server.running ());
}

void
test_oversized_message_closes_1009 (void)
{
  ServerProcess server ({"--max-message-size", "4096"});
  Client a (server), big (server);
  a.join ("r");
  big.join ("r");
  a.expect (proto::kUserJoined);
  std::string sdp (8192, 'x');
  big.send (proto::build_description (proto::kOffer, sdp, ""));
  g_assert_true (big.wait_closed ());
  g_assert_cmpuint (soup_websocket_connection_get_close_code (big.ws ()), ==,
      proto::kCloseTooBig);
  // Nothing of it reached the room; its member is announced gone.
  a.expect (proto::kUserDisconnected);
  g_assert_true (a.quiet ());
  g_assert_true (server.running ());
}

// A raw TCP peer that completes the handshake, joins, then goes silent: it
// answers no ping, as a crashed browser behind NAT would.
void
test_silent_peer_is_dropped (void)
{
  // The shortest interval, 2 s: a live member is asked for a pong after a
  // quarter interval of silence (plus the check's quarter interval), and
  // libsoup pings a second later; against the interval plus a second, 1 s
  // (allowed before) left the live client half a second, which a loaded
  // machine missed.
  ServerProcess server ({"--keepalive-interval", "2"});
  Client a (server);
  a.join ("r");

  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  g_autoptr (GError) err = nullptr;
  std::string host = "127.0.0.1:" + std::to_string (server.port ());
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_to_host (sc,
      host.c_str (), 0, nullptr, &err);
  g_assert_no_error (err);
  std::string request = "GET /ws HTTP/1.1\r\nHost: " + host +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_output_stream_write_all (out, request.data (), request.size (), nullptr,
      nullptr, &err);
  g_assert_no_error (err);
  // Wait for the 101 before speaking WebSocket.
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  std::string response;
  char ch;
  while (response.find ("\r\n\r\n") == std::string::npos &&
      g_input_stream_read (in, &ch, 1, nullptr, &err) == 1)
    response += ch;
  g_assert_no_error (err);
  g_assert_true (g_str_has_prefix (response.c_str (), "HTTP/1.1 101"));
  // One masked text frame (mask of zeros keeps the payload as it is).
  std::string join = proto::build_join ("r", "silent", "");
  g_assert_cmpuint (join.size (), <, 126);   // the 7-bit length form
  std::string frame = "\x81";
  frame += (char) (0x80 | join.size ());
  frame += std::string (4, '\0');
  frame += join;
  g_output_stream_write_all (out, frame.data (), frame.size (), nullptr,
      nullptr, &err);
  g_assert_no_error (err);

  proto::JsonObjectPtr joined = a.expect (proto::kUserJoined);
  std::string silent = proto::get_string (joined.get (), "from");
  // Announced after about two keep-alive intervals; the wait only bounds
  // the test.
  proto::JsonObjectPtr gone = a.expect (proto::kUserDisconnected);
  g_assert_cmpstr (proto::get_string (gone.get (), "from"), ==, silent.c_str ());
  // The live client answers pings and stays.
  a.send (proto::build_description (proto::kOffer, "alone", ""));
  g_assert_true (a.quiet (300000));
  g_assert_true (soup_websocket_connection_get_state (a.ws ()) ==
      SOUP_WEBSOCKET_STATE_OPEN);
}

void
test_many_rooms_nothing_misrouted (void)
{
  ServerProcess server ({"--max-connections-per-address", "1000"});
  constexpr int kRooms = 100;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::string> ids;
  for (int i = 0; i < 2 * kRooms; i++) {
    clients.push_back (std::make_unique<Client> (server));
    ids.push_back (clients.back ()->join (("room-" +
                std::to_string (i / 2)).c_str ()));
    if (i % 2 == 1)
      clients[i - 1]->expect (proto::kUserJoined);
  }
  // Every first member offers its room's name to the second, addressed and
  // broadcast; the second answers.
  for (int r = 0; r < kRooms; r++) {
    std::string tag = "room-" + std::to_string (r);
    clients[2 * r]->send (proto::build_description (proto::kOffer, tag,
            r % 2 ? ids[2 * r + 1] : ""));
  }
  for (int r = 0; r < kRooms; r++) {
    proto::JsonObjectPtr offer = clients[2 * r + 1]->expect (proto::kOffer);
    std::string tag = "room-" + std::to_string (r);
    g_assert_cmpstr (proto::get_string (proto::get_object (offer.get (),
                "offer"), "sdp"), ==, tag.c_str ());
    g_assert_cmpstr (proto::get_string (offer.get (), "from"), ==,
        ids[2 * r].c_str ());
    clients[2 * r + 1]->send (proto::build_description (proto::kAnswer,
            "answer-" + std::to_string (r), ids[2 * r]));
  }
  for (int r = 0; r < kRooms; r++) {
    proto::JsonObjectPtr answer = clients[2 * r]->expect (proto::kAnswer);
    std::string tag = "answer-" + std::to_string (r);
    g_assert_cmpstr (proto::get_string (proto::get_object (answer.get (),
                "answer"), "sdp"), ==, tag.c_str ());
  }
  for (auto &c : clients)
    g_assert_true (c->quiet (1000));
}

// --- HTTP ---

struct HttpReply {
  guint status;
  std::string type;
  std::string body;
  std::string head;

  bool has_header (const char *line) const
  {
    return head.find (std::string ("\r\n") + line) != std::string::npos;
  }
};

// A raw HTTP/1.1 request, so that paths reach the server exactly as
// written (HTTP clients normalise "/../" away).
HttpReply
http (const ServerProcess &server, const char *method, const char *path,
    const std::string &headers = {}, const std::string &body = {})
{
  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  g_autoptr (GError) err = nullptr;
  std::string host = "127.0.0.1:" + std::to_string (server.port ());
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_to_host (sc,
      host.c_str (), 0, nullptr, &err);
  g_assert_no_error (err);
  std::string request = std::string (method) + " " + path + " HTTP/1.1\r\n"
      "Host: " + host + "\r\nConnection: close\r\n" + headers + "\r\n" +
      body;
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
      request.data (), request.size (), nullptr, nullptr, &err);
  g_assert_no_error (err);

  std::string response;
  char buf[4096];
  gssize n;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  while ((n = g_input_stream_read (in, buf, sizeof (buf), nullptr, &err)) > 0)
    response.append (buf, n);
  g_assert_no_error (err);

  HttpReply reply {0, "", "", ""};
  std::size_t head_end = response.find ("\r\n\r\n");
  g_assert_true (head_end != std::string::npos);
  std::string head = response.substr (0, head_end);
  reply.head = head;
  reply.body = response.substr (head_end + 4);
  g_assert_true (g_str_has_prefix (head.c_str (), "HTTP/1.1 "));
  reply.status = (guint) atoi (head.c_str () + 9);
  std::size_t ct = head.find ("\r\nContent-Type: ");
  if (ct != std::string::npos) {
    std::size_t from = ct + 16;
    reply.type = head.substr (from, head.find_first_of (";\r", from) - from);
  }
  return reply;
}

void
test_http_static (void)
{
  ServerProcess server;

  HttpReply index = http (server, "GET", "/");
  g_assert_cmpuint (index.status, ==, 200);
  g_assert_cmpstr (index.type.c_str (), ==, "text/html");
  g_assert_true (index.body.find ("<title>call</title>") != std::string::npos);

  struct {
    const char *path, *type;
  } files[] = {
    {"/index.html", "text/html"}, {"/app.js", "text/javascript"},
    {"/styles.css", "text/css"}, {"/favicon.svg", "image/svg+xml"},
    {"/sub/", "text/html"}, {"/sub", "text/html"},
  };
  for (auto &f : files) {
    HttpReply r = http (server, "GET", f.path);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_cmpstr (r.type.c_str (), ==, f.type);
  }

  const char *missing[] = {
    "/nope.html", "/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt",
    "/%2E%2E%2Fsecret.txt", "/..%2fsecret.txt", "/sub/%2e%2e/%2e%2e/secret.txt",
    "/%00index.html", "/index.html%00.js", "/sub/./../../secret.txt",
    "index.html", "/index.html/", "/web/index.html",
    "/meson.build", "/NOTES.md", "/.hidden", "/.env.js", "/.git/config.json",
    "/%2ehidden", "/sub/../.hidden",
  };
  for (const char *path : missing) {
    HttpReply r = http (server, "GET", path);
    if (r.status != 404 && r.status != 400)
      g_error ("%s answered %u", path, r.status);
    g_assert_true (r.body.find ("SECRET") == std::string::npos);
  }

  HttpReply head = http (server, "HEAD", "/");
  g_assert_cmpuint (head.status, ==, 200);
  g_assert_true (head.body.empty ());
  g_assert_cmpuint (http (server, "POST", "/").status, ==, 405);

  HttpReply health = http (server, "GET", "/healthz");
  g_assert_cmpuint (health.status, ==, 200);
  g_assert_true (health.body.find ("\"status\":\"ok\"") != std::string::npos);
}

// Issue 19, item 9: every response carries the policy and the security
// headers, errors included.
void
test_security_headers (void)
{
  ServerProcess server;
  HttpReply replies[] = {
    http (server, "GET", "/"), http (server, "GET", "/app.js"),
    http (server, "GET", "/nope"), http (server, "POST", "/"),
    http (server, "GET", "/healthz"), http (server, "GET", "/.hidden"),
  };
  for (const HttpReply &r : replies) {
    for (const char *line : {"X-Content-Type-Options: nosniff",
          "Referrer-Policy: no-referrer", "X-Frame-Options: DENY",
          "Content-Security-Policy: default-src 'self'"})
      if (!r.has_header (line))
        g_error ("a %u response has no \"%s\": %s", r.status, line,
            r.head.c_str ());
    g_assert_true (r.head.find ("frame-ancestors 'none'") != std::string::npos);
  }
}

// Issue 19, item 3: a body is refused from its headers, not read whole.
void
test_request_bodies_refused (void)
{
  ServerProcess server;
  // 200 MB announced, a little sent: the answer comes without the rest.
  HttpReply post = http (server, "POST", "/",
      "Content-Length: 209715200\r\n", std::string (4096, 'x'));
  g_assert_cmpuint (post.status, ==, 405);
  g_assert_true (post.has_header ("Allow: GET, HEAD"));
  g_assert_true (post.has_header ("X-Frame-Options: DENY"));
  HttpReply get = http (server, "GET", "/",
      "Transfer-Encoding: chunked\r\n", "1000\r\n" + std::string (4096, 'x'));
  g_assert_cmpuint (get.status, ==, 413);
  // Without a body, the page is still served.
  g_assert_cmpuint (http (server, "GET", "/").status, ==, 200);
  g_assert_true (server.running ());
}

void
test_bad_options_are_refused (void)
{
  struct {
    std::vector<const char *> args;
    const char *says;
  } cases[] = {
    {{"--port", "99999"}, "99999"},
    {{"--ice-server", "http://example.invalid"}, "http://example.invalid"},
    {{"--web-root", "/nonexistent-dir"}, "/nonexistent-dir"},
    {{"--address", "not-an-ip"}, "not-an-ip"},
    {{"--max-room-size", "1"}, "--max-room-size"},
    {{"--keepalive-interval", "1"}, "--keepalive-interval must be from 2"},
    {{"--max-http-connections", "0"}, "--max-http-connections"},
  };
  for (auto &c : cases) {
    // A good web root first: a bad one in the case comes later and wins.
    std::vector<const char *> argv = {g_getenv ("P2PCALL_SERVER"),
      "--web-root", test_web_root->root.c_str ()};
    argv.insert (argv.end (), c.args.begin (), c.args.end ());
    if (g_strcmp0 (c.args[0], "--port") != 0) {
      argv.push_back ("--port");
      argv.push_back ("0");
    }
    argv.push_back (nullptr);
    g_autoptr (GError) err = nullptr;
    g_autoptr (GSubprocess) proc = g_subprocess_newv (argv.data (),
        G_SUBPROCESS_FLAGS_STDERR_PIPE, &err);
    g_assert_no_error (err);
    g_autofree char *errout = nullptr;
    g_subprocess_communicate_utf8 (proc, nullptr, nullptr, nullptr, &errout,
        &err);
    g_assert_no_error (err);
    g_assert_true (g_subprocess_get_if_exited (proc));
    g_assert_cmpint (g_subprocess_get_exit_status (proc), !=, 0);
    if (!strstr (errout, c.says))
      g_error ("error \"%s\" does not name \"%s\"", errout, c.says);
  }
}


// Output of a command line, which must succeed.
std::string
run (std::vector<const char *> argv, const char *env_name = nullptr,
    const char *env_value = nullptr)
{
  argv.push_back (nullptr);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      (GSubprocessFlags) (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
          G_SUBPROCESS_FLAGS_STDERR_MERGE));
  if (env_name)
    g_subprocess_launcher_setenv (launcher, env_name, env_value, TRUE);
  g_autoptr (GError) err = nullptr;
  g_autoptr (GSubprocess) proc = g_subprocess_launcher_spawnv (launcher,
      argv.data (), &err);
  g_assert_no_error (err);
  g_autofree char *out = nullptr;
  g_subprocess_communicate_utf8 (proc, nullptr, nullptr, &out, nullptr, &err);
  g_assert_no_error (err);
  if (!g_subprocess_get_successful (proc))
    g_error ("%s failed: %s", argv[0], out);
  return g_strstrip (out);
}

std::string
token (const char *room, const char *ttl, const char *name = nullptr)
{
  std::vector<const char *> argv = {g_getenv ("P2PCALL_SERVER"), "token",
    "--room", room, "--ttl", ttl};
  if (name) {
    argv.push_back ("--name");
    argv.push_back (name);
  }
  return run (argv, "P2PCALL_AUTH_SECRET", "test-secret");
}

void
test_access_tokens (void)
{
  ServerProcess server ({"--auth-secret", "test-secret"});
  Client a (server), b (server);
  std::string good = token ("club", "1h", "Member");

  struct {
    std::string token;
    const char *room;
  } refused[] = {
    {"", "club"},
    {token ("other", "1h"), "club"},
    {good.substr (0, good.size () - 2) + "xx", "club"},
  };
  for (auto &r : refused) {
    a.send (proto::build_join (r.room, "", r.token));
    a.expect_error (proto::kErrUnauthorized);
  }
  // Nobody was let in: b joining alone sees no peers.
  b.send (proto::build_join ("club", "", token ("*", "1h")));
  proto::JsonObjectPtr joined = b.expect (proto::kJoined);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
              joined.get (), "peers")), ==, 0);

  a.send (proto::build_join ("club", "asked-name", good));
  a.expect (proto::kJoined);
  proto::JsonObjectPtr announce = b.expect (proto::kUserJoined);
  g_assert_cmpstr (proto::get_string (announce.get (), "name"), ==, "Member");
}

void
test_expired_token (void)
{
  ServerProcess server ({"--auth-secret", "test-secret"});
  Client a (server);
  std::string short_lived = token ("r", "1s");
  // Expiry is in whole seconds: wait until it has certainly passed.
  g_usleep (2100 * 1000);
  a.send (proto::build_join ("r", "", short_lived));
  a.expect_error (proto::kErrUnauthorized);
}

void
test_origins (void)
{
  {
    ServerProcess server;
    std::string own = "http://127.0.0.1:" + std::to_string (server.port ());
    Client same (server, Client::Options {"/ws", own.c_str ()});
    g_assert_true (same.connected ());
    Client none (server);
    g_assert_true (none.connected ());
    Client foreign (server, Client::Options {"/ws", "http://evil.invalid"});
    g_assert_false (foreign.connected ());
    Client foreign_root (server, Client::Options {"/", "https://evil.invalid"});
    g_assert_false (foreign_root.connected ());
  }
  {
    ServerProcess server ({"--allowed-origin", "https://call.example.org"});
    Client listed (server, Client::Options {"/ws", "https://call.example.org"});
    g_assert_true (listed.connected ());
    Client other (server, Client::Options {"/ws", "https://example.org"});
    g_assert_false (other.connected ());
    // Issue 19, item 8: the page's own origin is never locked out.
    std::string own = "http://127.0.0.1:" + std::to_string (server.port ());
    Client same (server, Client::Options {"/ws", own.c_str ()});
    g_assert_true (same.connected ());
  }
}

void
test_connections_per_address (void)
{
  ServerProcess server ({"--max-connections-per-address", "3"});
  auto c1 = std::make_unique<Client> (server);
  Client c2 (server), c3 (server);
  g_assert_true (c1->connected () && c2.connected () && c3.connected ());
  Client c4 (server);
  g_assert_false (c4.connected ());
  // A slot frees when one closes.
  c1.reset ();
  g_assert_true (wait_for ([&server] {
        Client again (server);
        return again.connected ();
      }));
}

void
test_flood_is_limited_others_unaffected (void)
{
  ServerProcess server ({"--max-messages-per-second", "20",
      "--message-burst", "20"});
  Client flooder (server), victim (server), bystander (server);
  flooder.join ("r");
  victim.join ("r");
  bystander.join ("q");
  flooder.expect (proto::kUserJoined);
  for (int i = 0; i < 500; i++)
    flooder.send (proto::build_description (proto::kOffer, "flood", ""));
  flooder.expect_error (proto::kErrRateLimited);
  int received = 0;
  while (proto::JsonObjectPtr m = victim.next (500000))
    received++;
  g_assert_cmpint (received, <, 100);
  g_assert_cmpint (received, >, 0);
  g_assert_true (bystander.quiet ());
  // The victim's own messages still go through.
  Client third (server);
  third.join ("r");
  victim.expect (proto::kUserJoined);
  victim.send (proto::build_description (proto::kOffer, "hello", ""));
  g_assert_nonnull (third.expect (proto::kOffer).get ());
}

void
test_turn_credentials_in_joined (void)
{
  ServerProcess server ({"--turn-server", "turn:127.0.0.1:3478?transport=udp",
      "--turn-secret", "north", "--turn-ttl", "1h"});
  Client a (server);
  a.send (proto::build_join ("r", "", ""));
  proto::JsonObjectPtr joined = a.expect (proto::kJoined);
  std::string id = proto::get_string (joined.get (), "id");
  JsonArray *ice = json_object_get_array_member (joined.get (), "iceServers");
  g_assert_cmpuint (json_array_get_length (ice), ==, 1);
  JsonObject *turn = json_array_get_object_element (ice, 0);
  std::string user = proto::get_string (turn, "username");
  g_assert_true (g_str_has_suffix (user.c_str (), (":" + id).c_str ()));
  gint64 expiry = g_ascii_strtoll (user.c_str (), nullptr, 10);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_assert_cmpint (expiry, >, now + 3000);
  g_assert_cmpint (expiry, <=, now + 3601);
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) "north", 5);
  g_hmac_update (hmac, (const guchar *) user.data (), user.size ());
  guint8 digest[20];
  gsize len = sizeof (digest);
  g_hmac_get_digest (hmac, digest, &len);
  g_autofree char *expected = g_base64_encode (digest, len);
  g_assert_cmpstr (proto::get_string (turn, "credential"), ==, expected);
}

void
test_tls (void)
{
  g_autofree char *dir = g_dir_make_tmp ("p2pcall-tls-XXXXXX", nullptr);
  std::string cert = std::string (dir) + "/cert.pem";
  std::string key = std::string (dir) + "/key.pem";
  run ({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.c_str (),
      "-out", cert.c_str (), "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1"});
  g_autoptr (GTlsCertificate) trust = g_tls_certificate_new_from_file (
      cert.c_str (), nullptr);
  g_assert_nonnull (trust);
  {
    ServerProcess server ({"--tls-cert", cert, "--tls-key", key});
    Client a (server, Client::Options {"/ws", nullptr, trust});
    Client b (server, Client::Options {"/ws", nullptr, trust});
    g_assert_true (a.connected ());
    a.join ("secure");
    b.join ("secure");
    a.expect (proto::kUserJoined);
    a.send (proto::build_description (proto::kOffer, "over tls", ""));
    g_assert_nonnull (b.expect (proto::kOffer).get ());
    // A client that does not trust the certificate is refused by TLS.
    Client untrusting (server);
    g_assert_false (untrusting.connected ());
  }
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (cmd), ==, 0);
}

}  // namespace

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, nullptr);
  g_assert_nonnull (g_getenv ("P2PCALL_SERVER"));
  g_test_add_func ("/server/seed-exchange-ws", test_seed_exchange_at_ws);
  g_test_add_func ("/server/seed-exchange-root", test_seed_exchange_at_root);
  g_test_add_func ("/server/bad-input", test_bad_input_leaves_others_alone);
  g_test_add_func ("/server/oversized-1009", test_oversized_message_closes_1009);
  g_test_add_func ("/server/silent-peer-dropped", test_silent_peer_is_dropped);
  g_test_add_func ("/server/200-clients-100-rooms", test_many_rooms_nothing_misrouted);
  g_test_add_func ("/server/http-static", test_http_static);
  g_test_add_func ("/server/security-headers", test_security_headers);
  g_test_add_func ("/server/request-bodies-refused", test_request_bodies_refused);
  g_test_add_func ("/server/bad-options", test_bad_options_are_refused);
  g_test_add_func ("/server/access-tokens", test_access_tokens);
  g_test_add_func ("/server/expired-token", test_expired_token);
  g_test_add_func ("/server/origins", test_origins);
  g_test_add_func ("/server/connections-per-address", test_connections_per_address);
  g_test_add_func ("/server/flood-limited", test_flood_is_limited_others_unaffected);
  g_test_add_func ("/server/turn-credentials", test_turn_credentials_in_joined);
  g_test_add_func ("/server/tls", test_tls);
  WebRoot web_root;
  test_web_root = &web_root;
  return g_test_run ();
}
