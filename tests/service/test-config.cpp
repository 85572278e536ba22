// p2pcall-server's options as a host sets them: --config FILE, the
// environment and the command line, in that order of precedence; bad values
// named with the file, line and option. Runs the real binary; --print-config
// shows what won without opening a socket.
#include "access_token.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

struct Outcome {
  int status;
  std::string out, err;
};

Outcome
run_server (std::vector<const char *> args,
    std::vector<std::pair<const char *, const char *>> env = {})
{
  std::vector<const char *> argv = {g_getenv ("P2PCALL_SERVER")};
  argv.insert (argv.end (), args.begin (), args.end ());
  argv.push_back (nullptr);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      (GSubprocessFlags) (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
          G_SUBPROCESS_FLAGS_STDERR_PIPE));
  // Only what the test sets: a host's own P2PCALL_* must not leak in.
  for (const char *name : {"PORT", "P2PCALL_CONFIG", "P2PCALL_MAX_ROOM_SIZE",
           "P2PCALL_ICE_SERVERS", "P2PCALL_AUTH_SECRET", "P2PCALL_VERBOSE"})
    g_subprocess_launcher_unsetenv (launcher, name);
  for (auto &[name, value] : env)
    g_subprocess_launcher_setenv (launcher, name, value, TRUE);
  g_autoptr (GError) err = nullptr;
  g_autoptr (GSubprocess) proc = g_subprocess_launcher_spawnv (launcher,
      argv.data (), &err);
  g_assert_no_error (err);
  g_autofree char *out = nullptr, *errout = nullptr;
  g_subprocess_communicate_utf8 (proc, nullptr, nullptr, &out, &errout, &err);
  g_assert_no_error (err);
  g_assert_true (g_subprocess_get_if_exited (proc));
  return {g_subprocess_get_exit_status (proc), out ? out : "",
    errout ? errout : ""};
}

// A config file in a fresh temporary directory, removed by the destructor.
struct ConfigFile {
  explicit ConfigFile (const char *text)
  {
    g_autoptr (GError) err = nullptr;
    g_autofree char *dir = g_dir_make_tmp ("p2pcall-config-XXXXXX", &err);
    g_assert_no_error (err);
    dir_ = dir;
    path = dir_ + "/p2pcall-server.conf";
    g_assert_true (g_file_set_contents (path.c_str (), text, -1, nullptr));
  }
  ~ConfigFile ()
  {
    g_unlink (path.c_str ());
    g_rmdir (dir_.c_str ());
  }
  std::string path;
private:
  std::string dir_;
};

// The line of --print-config's output that sets @name, or "".
std::string
setting (const std::string &printed, const char *name)
{
  g_auto (GStrv) lines = g_strsplit (printed.c_str (), "\n", -1);
  std::string prefix = std::string (name) + " = ";
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, prefix.c_str ()))
      return *l + prefix.size ();
  return "";
}

void
assert_setting (const std::string &printed, const char *name,
    const char *expected)
{
  std::string value = setting (printed, name);
  if (value != expected)
    g_error ("%s is \"%s\", expected \"%s\"", name, value.c_str (), expected);
}

void
assert_contains (const std::string &text, const std::string &part)
{
  if (text.find (part) == std::string::npos)
    g_error ("\"%s\" does not contain \"%s\"", text.c_str (), part.c_str ());
}

void
test_precedence (void)
{
  ConfigFile file ("# a host's file\n[server]\nport = 9001\n"
      "max-room-size = 4\nice-server = stun:192.0.2.1:3478, stun:192.0.2.2\n");
  const char *cfg = file.path.c_str ();

  Outcome o = run_server ({"--config", cfg, "--print-config"});
  g_assert_cmpint (o.status, ==, 0);
  assert_setting (o.out, "port", "9001");
  assert_setting (o.out, "max-room-size", "4");
  assert_setting (o.out, "ice-server", "stun:192.0.2.1:3478,stun:192.0.2.2");
  // What the file does not set stays at its default, commented out.
  assert_contains (o.out, "\n#keepalive-interval = 10\n");

  o = run_server ({"--config", cfg, "--print-config"}, {{"PORT", "9002"}});
  assert_setting (o.out, "port", "9002");
  assert_setting (o.out, "max-room-size", "4");

  o = run_server ({"--config", cfg, "--print-config", "--port", "9003",
          "--ice-server", "stun:192.0.2.3", "--ice-server", "stun:192.0.2.4"},
      {{"PORT", "9002"}});
  assert_setting (o.out, "port", "9003");
  assert_setting (o.out, "ice-server", "stun:192.0.2.3,stun:192.0.2.4");

  // The file named in the environment, as a unit's Environment= would.
  o = run_server ({"--print-config"}, {{"P2PCALL_CONFIG", cfg}});
  assert_setting (o.out, "port", "9001");
}

void
test_printed_file_lists_every_option (void)
{
  Outcome help = run_server ({"--help"});
  g_assert_cmpint (help.status, ==, 0);
  Outcome printed = run_server ({"--print-config"});
  g_assert_cmpint (printed.status, ==, 0);
  assert_contains (printed.out, "\n[server]\n");
  assert_contains (printed.out, "\n#port = 8080\n");
  // Every --NAME=ARG of --help has its commented line in the file, except the
  // two that are about the file itself.
  g_auto (GStrv) lines = g_strsplit (help.out.c_str (), "\n", -1);
  int options = 0;
  for (char **l = lines; *l; l++) {
    const char *dashes = strstr (*l, "--");
    if (!dashes || strstr (*l, "--help") || strstr (*l, "--config") ||
        strstr (*l, "--print-config"))
      continue;
    std::string name (dashes + 2, strcspn (dashes + 2, "= "));
    assert_contains (printed.out, "\n#" + name + " =");
    options++;
  }
  g_assert_cmpint (options, >=, 18);

  // The file as printed is a valid config that changes nothing.
  ConfigFile file (printed.out.c_str ());
  Outcome again = run_server ({"--config", file.path.c_str (),
          "--print-config"});
  g_assert_cmpint (again.status, ==, 0);
  g_assert_cmpstr (again.out.c_str (), ==, printed.out.c_str ());
}

void
test_secrets_are_not_printed (void)
{
  ConfigFile file ("[server]\nauth-secret = file-secret-1\n");
  Outcome o = run_server ({"--config", file.path.c_str (), "--print-config"},
      {{"P2PCALL_AUTH_SECRET", "env-secret-2"}});
  g_assert_cmpint (o.status, ==, 0);
  g_assert_true (o.out.find ("secret-") == std::string::npos);
  assert_contains (o.out, "auth-secret is set (P2PCALL_AUTH_SECRET)");
}

void
test_bad_values_are_named (void)
{
  struct {
    const char *file;
    std::vector<const char *> args;
    const char *says;    // after the file's path when it starts with ':'
  } cases[] = {
    {"[server]\nport = 9001\n\nmax-room-size = 1\n", {},
      ":4: max-room-size must be from 2 to 1000, not \"1\""},
    {"[server]\n# comment\nkeepalive-interval=0\n", {},
      ":3: keepalive-interval must be from 2 to 3600, not \"0\""},
    {"[server]\nport = eighty\n", {}, ":2: port must be from 0 to 65535"},
    {"[server]\nturn-ttl = 3 weeks\n", {},
      ":2: turn-ttl must be a duration such as 90s"},
    {"[server]\nverbose = maybe\n", {}, ":2: verbose must be true or false"},
    {"[server]\nmessage-burst = 0.5\n", {}, ":2: message-burst must be from 1"},
    {"[server]\n\nmax-room-szie = 4\n", {}, ":3: max-room-szie is not an option"},
    {"[srever]\nport = 1\n", {}, ": unknown section [srever]"},
    {"port = 1\n", {}, "p2pcall-server.conf"},
    {"[server]\nice-server = http://192.0.2.1\n", {},
      ":2: ice-server: " },
    // The command line's value wins, so a bad one there is named as such.
    {"[server]\nport = 9001\n", {"--max-room-size", "1001"},
      "--max-room-size must be from 2 to 1000, not \"1001\""},
  };
  for (auto &c : cases) {
    ConfigFile file (c.file);
    std::vector<const char *> args = {"--config", file.path.c_str ()};
    args.insert (args.end (), c.args.begin (), c.args.end ());
    Outcome o = run_server (args);
    g_assert_cmpint (o.status, ==, 2);
    std::string says = c.says[0] == ':' ? file.path + c.says : c.says;
    assert_contains (o.err, says);
  }

  Outcome missing = run_server ({"--config", "/nonexistent/p2pcall.conf"});
  g_assert_cmpint (missing.status, ==, 2);
  assert_contains (missing.err, "/nonexistent/p2pcall.conf");

  Outcome env = run_server ({}, {{"P2PCALL_MAX_ROOM_SIZE", "lots"}});
  g_assert_cmpint (env.status, ==, 2);
  assert_contains (env.err, "P2PCALL_MAX_ROOM_SIZE must be from 2 to 1000, "
      "not \"lots\"");
}

// `p2pcall-server token --config FILE` signs with the file's secret, so a
// host never copies the secret onto a command line.
void
test_token_command_reads_the_file (void)
{
  ConfigFile file ("[server]\nport = 9001\nauth-secret = file-secret\n");
  Outcome o = run_server ({"token", "--config", file.path.c_str (), "--room",
          "club"});
  g_assert_cmpint (o.status, ==, 0);
  std::string token = g_strstrip (o.out.data ());
  std::string name;
  std::int64_t now = g_get_real_time () / G_USEC_PER_SEC;
  g_assert_null (p2pcall::server::check_access_token ("file-secret",
          token.c_str (), "club", now, name));
  g_assert_nonnull (p2pcall::server::check_access_token ("other",
          token.c_str (), "club", now, name));

  Outcome none = run_server ({"token", "--room", "club"});
  g_assert_cmpint (none.status, ==, 2);
  assert_contains (none.err, "no secret");
}

}  // namespace

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, nullptr);
  g_test_add_func ("/config/precedence", test_precedence);
  g_test_add_func ("/config/printed-file-lists-every-option",
      test_printed_file_lists_every_option);
  g_test_add_func ("/config/secrets-are-not-printed",
      test_secrets_are_not_printed);
  g_test_add_func ("/config/bad-values-are-named", test_bad_values_are_named);
  g_test_add_func ("/config/token-command-reads-the-file",
      test_token_command_reads_the_file);
  return g_test_run ();
}
