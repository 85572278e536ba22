// A real coturn for the gst-check tests (relayed calls, and with max-bps a
// capped link), and what starting it needs: temporary folders, free ports,
// TURN REST credentials.
#pragma once

#include "gst-test-support.h"

namespace p2pcall_test {

class TempDir {
public:
  TempDir () : path_ (g_dir_make_tmp ("p2pcall-hardening-XXXXXX", nullptr)) {}
  ~TempDir ()
  {
    const char *argv[] = { "rm", "-rf", path_, nullptr };
    g_spawn_sync (nullptr, (char **) argv, nullptr, G_SPAWN_SEARCH_PATH,
        nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    g_free (path_);
  }
  std::string file (const char *name) const
  {
    return std::string (path_) + "/" + name;
  }
private:
  char *path_;
};

inline guint
free_udp_port ()
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4,
      G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, nullptr);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  fail_unless (g_socket_bind (socket, any, FALSE, nullptr));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (socket,
      nullptr);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

// TURN REST credentials as coturn's use-auth-secret checks them.
inline std::string
turn_password (const std::string &secret, const std::string &username)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1,
      (const guchar *) secret.data (), secret.size ());
  g_hmac_update (hmac, (const guchar *) username.data (), username.size ());
  guint8 digest[20];
  gsize len = sizeof digest;
  g_hmac_get_digest (hmac, digest, &len);
  g_autofree char *b64 = g_base64_encode (digest, len);
  return b64;
}

// libnice warns when a relayed agent is released with TURN refreshes still
// pending (webrtcbin does not close its agent asynchronously), and gst-check
// makes every warning fatal: that one, and only that one, is let through.
inline void
allow_libnice_turn_refresh_warning ()
{
  g_test_log_set_fatal_handler (+[] (const gchar *domain, GLogLevelFlags,
          const gchar *message, gpointer) -> gboolean {
        return !(g_strcmp0 (domain, "libnice") == 0 && message &&
            strstr (message, "alive TURN refreshes"));
      }, nullptr);
}

// A real coturn on 127.0.0.1 with TURN REST credentials (use-auth-secret),
// relaying between loopback peers. Its log says which allocations it made.
// @max_bps > 0 caps each relayed session at that many bytes per second
// (coturn's max-bps): a genuinely narrow link for whoever relays through it.
class Coturn {
public:
  explicit Coturn (const std::string &secret, guint max_bps = 0)
  {
    port_ = free_udp_port ();
    // The relay ports: this namespace has no other user of them.
    guint min = port_ < 60000 ? port_ + 1 : 40000;
    std::vector<std::string> args = {"turnserver", "-n", "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1", "--listening-port=" + std::to_string (port_),
        "--min-port=" + std::to_string (min),
        "--max-port=" + std::to_string (min + 200),
        "--use-auth-secret", "--static-auth-secret=" + secret,
        "--realm=p2pcall.test", "--allow-loopback-peers", "--no-cli", "-v",
        "--no-tls", "--no-dtls", "--simple-log", "--log-file=" + log_path (),
        "--pidfile=" + dir_.file ("turnserver.pid"),
        "--userdb=" + dir_.file ("turndb")};
    if (max_bps)
      args.push_back ("--max-bps=" + std::to_string (max_bps));
    proc_ = spawn_child (args, (GSubprocessFlags) (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
            G_SUBPROCESS_FLAGS_STDERR_SILENCE));
    fail_unless (wait_for ([this] {
              return log ().find ("Total General servers") != std::string::npos;
            }), "coturn did not start:\n%s", log ().c_str ());
  }

  ~Coturn ()
  {
    g_subprocess_send_signal (proc_, SIGKILL);
    g_subprocess_wait (proc_, nullptr, nullptr);
    g_object_unref (proc_);
  }

  std::string log () const
  {
    g_autofree char *text = nullptr;
    g_file_get_contents (log_path ().c_str (), &text, nullptr, nullptr);
    return text ? text : "";
  }

  // For p2pcall-server --turn-server.
  std::string url () const
  {
    return "turn:127.0.0.1:" + std::to_string (port_);
  }

  guint port () const { return port_; }
  // For the elements' turn-server: both parts percent-encoded.
  std::string uri (const std::string &user, const std::string &password) const
  {
    g_autofree char *u = g_uri_escape_string (user.c_str (), nullptr, FALSE);
    g_autofree char *p = g_uri_escape_string (password.c_str (), nullptr,
        FALSE);
    return std::string ("turn://") + u + ":" + p + "@127.0.0.1:" +
        std::to_string (port_);
  }

private:
  std::string log_path () const { return dir_.file ("turn.log"); }

  TempDir dir_;
  GSubprocess *proc_ = nullptr;
  guint port_ = 0;
};

}  // namespace p2pcall_test
