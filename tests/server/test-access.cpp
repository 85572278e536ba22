// Access tokens, TURN REST credentials and rate limiting, without sockets.
#include "access_token.h"
#include "ice_servers.h"
#include "room_registry.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <jwt.h>

#include <cstdlib>

using namespace p2pcall::server;
namespace proto = p2pcall::protocol;

namespace {

constexpr std::int64_t kNow = 1800000000;

const char *
check (const std::string &secret, const std::string &token,
    const std::string &room, std::string *name_out = nullptr)
{
  std::string name = "asked";
  const char *why = check_access_token (secret, token.c_str (), room, kNow, name);
  if (name_out)
    *name_out = name;
  return why;
}

void
test_tokens (void)
{
  std::string t = make_access_token ("s3cret", "myroom", kNow + 60);
  g_assert_null (check ("s3cret", t, "myroom"));
  g_assert_nonnull (check ("s3cret", t, "otherroom"));
  g_assert_nonnull (check ("wrong", t, "myroom"));
  g_assert_nonnull (check ("s3cret", make_access_token ("s3cret", "myroom",
              kNow - 1), "myroom"));

  std::string any = make_access_token ("s3cret", "*", kNow + 60, "Ann");
  std::string name;
  g_assert_null (check ("s3cret", any, "whatever", &name));
  g_assert_cmpstr (name.c_str (), ==, "Ann");
  g_assert_null (check ("s3cret", t, "myroom", &name));
  g_assert_cmpstr (name.c_str (), ==, "asked");

  // A token made by another JWT implementation (Python's hmac) verifies.
  g_assert_null (check ("k", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
          "eyJyb29tIjoiciIsImV4cCI6NDEwMjQ0NDgwMH0."
          "UoeYnETh-sUNKjwL04sx8RP_biEvP40rv1lKH9UTW1Q", "r"));

  // Tampering: another room in the claims with the old signature, the
  // "none" algorithm, truncation, garbage.
  std::string claims_other = make_access_token ("s3cret", "other", kNow + 60);
  std::string forged = t.substr (0, t.find ('.')) +
      claims_other.substr (claims_other.find ('.'),
          claims_other.rfind ('.') - claims_other.find ('.')) +
      t.substr (t.rfind ('.'));
  g_assert_nonnull (check ("s3cret", forged, "other"));
  g_assert_nonnull (check ("s3cret", "eyJhbGciOiJub25lIn0."
          "eyJyb29tIjoiciIsImV4cCI6NDEwMjQ0NDgwMH0.", "r"));
  g_assert_nonnull (check ("s3cret", t.substr (0, t.size () - 3), "myroom"));
  for (const char *junk : {"", ".", "..", "a.b.c", "%%%.%%%.%%%", "x"})
    g_assert_nonnull (check ("s3cret", junk, "myroom"));
  std::string name2;
  g_assert_nonnull (check_access_token ("s3cret", nullptr, "r", kNow, name2));
}

// PEM text from `openssl ARGS`, fed @input: keys are made per run so no
// private key lives in the tree.
std::string
openssl (std::vector<const char *> args, const std::string &input = "")
{
  args.insert (args.begin (), "openssl");
  args.push_back (nullptr);
  g_autoptr (GError) err = nullptr;
  g_autoptr (GSubprocess) proc = g_subprocess_newv (args.data (),
      (GSubprocessFlags) (G_SUBPROCESS_FLAGS_STDIN_PIPE |
          G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE),
      &err);
  g_assert_no_error (err);
  g_autofree char *out = nullptr;
  g_subprocess_communicate_utf8 (proc, input.c_str (), nullptr, &out, nullptr,
      &err);
  g_assert_no_error (err);
  g_assert_true (g_subprocess_get_successful (proc));
  return out;
}

struct KeyPair {
  std::string private_pem, public_pem;
};

KeyPair
make_key_pair (const char *algorithm, const char *option)
{
  KeyPair keys;
  keys.private_pem = openssl ({"genpkey", "-algorithm", algorithm, "-pkeyopt",
        option});
  keys.public_pem = openssl ({"pkey", "-pubout"}, keys.private_pem);
  return keys;
}

// A token as any JWT library would make it: @claims JSON, @alg with @key,
// and extra header fields.
std::string
sign (jwt_alg_t alg, const std::string &key, const char *claims,
    std::vector<std::pair<const char *, const char *>> headers = {})
{
  jwt_t *jwt = nullptr;
  g_assert_cmpint (jwt_new (&jwt), ==, 0);
  g_assert_cmpint (jwt_add_grants_json (jwt, claims), ==, 0);
  for (auto &[name, value] : headers)
    g_assert_cmpint (jwt_add_header (jwt, name, value), ==, 0);
  g_assert_cmpint (jwt_set_alg (jwt, alg, key.empty () ? nullptr :
          (const unsigned char *) key.data (), (int) key.size ()), ==, 0);
  char *text = jwt_encode_str (jwt);
  g_assert_nonnull (text);
  std::string token = text;
  free (text);
  jwt_free (jwt);
  return token;
}

// "room":"r" and an exp a minute after kNow, plus @more claims.
std::string
claims (const std::string &more = "")
{
  return "{\"room\":\"r\",\"exp\":" + std::to_string (kNow + 60) +
      (more.empty () ? "" : "," + more) + "}";
}

const char *
check_policy (const TokenPolicy &policy, const std::string &token)
{
  std::string name;
  return check_access_token (policy, token.c_str (), "r", kNow, name);
}

void
assert_refused (const TokenPolicy &policy, const std::string &token,
    const char *because)
{
  const char *why = check_policy (policy, token);
  if (!why || !strstr (why, because))
    g_error ("token %s: refusal \"%s\" does not say \"%s\"", token.c_str (),
        why ? why : "(accepted)", because);
}

void
test_public_key_tokens (void)
{
  KeyPair rsa = make_key_pair ("RSA", "rsa_keygen_bits:2048");
  KeyPair ec = make_key_pair ("EC", "ec_paramgen_curve:P-256");
  TokenPolicy by_rsa, by_ec;
  by_rsa.public_key_pem = rsa.public_pem;
  by_ec.public_key_pem = ec.public_pem;

  std::string rs256 = sign (JWT_ALG_RS256, rsa.private_pem,
      claims ("\"name\":\"Bo\"").c_str ());
  std::string name;
  g_assert_null (check_access_token (by_rsa, rs256.c_str (), "r", kNow, name));
  g_assert_cmpstr (name.c_str (), ==, "Bo");
  g_assert_null (check_policy (by_ec,
          sign (JWT_ALG_ES256, ec.private_pem, claims ().c_str ())));

  // Signed by the other key pair, or for another room, or expired.
  assert_refused (by_ec, rs256, "signature");
  assert_refused (by_rsa, sign (JWT_ALG_ES256, ec.private_pem,
          claims ().c_str ()), "signature");
  assert_refused (by_rsa, sign (JWT_ALG_RS256, rsa.private_pem,
          "{\"room\":\"other\",\"exp\":1900000000}"), "another room");
  assert_refused (by_rsa, sign (JWT_ALG_RS256, rsa.private_pem,
          "{\"room\":\"r\",\"exp\":1700000000}"), "expired");

  // Both kinds configured: either passes.
  TokenPolicy both = by_rsa;
  both.secret = "s3cret";
  g_assert_null (check_policy (both, rs256));
  g_assert_null (check_policy (both, make_access_token ("s3cret", "r",
              kNow + 60)));
}

void
test_algorithm_confusion (void)
{
  KeyPair rsa = make_key_pair ("RSA", "rsa_keygen_bits:2048");
  TokenPolicy by_key, by_secret, both;
  by_key.public_key_pem = rsa.public_pem;
  by_secret.secret = "s3cret";
  both.public_key_pem = rsa.public_pem;
  both.secret = "s3cret";

  // HS256 with the public key (which anyone may have) as the HMAC secret.
  std::string hs_with_public = sign (JWT_ALG_HS256, rsa.public_pem,
      claims ().c_str ());
  assert_refused (by_key, hs_with_public, "only has a public key");
  assert_refused (both, hs_with_public, "signature");

  // A private-key token where only a secret is configured.
  assert_refused (by_secret, sign (JWT_ALG_RS256, rsa.private_pem,
          claims ().c_str ()), "only has a secret");

  // No signature at all.
  std::string none = sign (JWT_ALG_NONE, "", claims ().c_str ());
  for (const TokenPolicy *policy : {&by_key, &by_secret, &both})
    assert_refused (*policy, none, "algorithm");

  // A header naming where to fetch the key: refused even when the
  // signature is good.
  for (const char *field : {"jku", "x5u"}) {
    assert_refused (by_key, sign (JWT_ALG_RS256, rsa.private_pem,
            claims ().c_str (), {{field, "https://attacker.invalid/key"}}),
        field);
    assert_refused (by_secret, sign (JWT_ALG_HS256, "s3cret",
            claims ().c_str (), {{field, "https://attacker.invalid/key"}}),
        field);
  }
}

void
test_time_and_audience_claims (void)
{
  TokenPolicy policy;
  policy.secret = "s3cret";
  auto hs = [] (const std::string &c) {
    return sign (JWT_ALG_HS256, "s3cret", c.c_str ());
  };
  std::string soon = std::to_string (kNow + 10);
  std::string later = std::to_string (kNow + 120);
  g_assert_null (check_policy (policy, hs (claims ("\"nbf\":" + soon))));
  g_assert_null (check_policy (policy, hs (claims ("\"iat\":" + soon))));
  assert_refused (policy, hs (claims ("\"nbf\":" + later)), "not valid yet");
  assert_refused (policy, hs (claims ("\"iat\":" + later)), "future");
  assert_refused (policy, hs (claims ("\"nbf\":\"soon\"")), "nbf");
  assert_refused (policy, hs ("{\"room\":\"r\",\"exp\":\"1900000000\"}"),
      "expiry");

  policy.max_lifetime = 3600;
  g_assert_null (check_policy (policy, hs (claims ())));
  assert_refused (policy, hs ("{\"room\":\"r\",\"exp\":" +
          std::to_string (kNow + 7200) + "}"), "max-token-lifetime");

  policy.audience = "calls.example";
  g_assert_null (check_policy (policy,
          hs (claims ("\"aud\":\"calls.example\""))));
  g_assert_null (check_policy (policy,
          hs (claims ("\"aud\":[\"mail\",\"calls.example\"]"))));
  assert_refused (policy, hs (claims ("\"aud\":\"mail\"")), "audience");
  assert_refused (policy, hs (claims ()), "audience");
}

void
test_public_key_files (void)
{
  KeyPair ec = make_key_pair ("EC", "ec_paramgen_curve:P-256");
  g_autoptr (GError) err = nullptr;
  g_autofree char *dir = g_dir_make_tmp ("p2pcall-keys-XXXXXX", &err);
  g_assert_no_error (err);
  std::string pub = std::string (dir) + "/public.pem";
  std::string priv = std::string (dir) + "/private.pem";
  g_assert_true (g_file_set_contents (pub.c_str (), ec.public_pem.c_str (), -1,
          nullptr));
  g_assert_true (g_file_set_contents (priv.c_str (), ec.private_pem.c_str (),
          -1, nullptr));
  std::string pem, error;
  g_assert_true (load_public_key (pub, pem, error));
  g_assert_cmpstr (pem.c_str (), ==, ec.public_pem.c_str ());
  g_assert_false (load_public_key (priv, pem, error));
  g_assert_true (error.find ("private key") != std::string::npos);
  g_assert_false (load_public_key (std::string (dir) + "/missing.pem", pem,
          error));
  g_assert_true (error.find ("missing.pem") != std::string::npos);
  g_unlink (pub.c_str ());
  g_unlink (priv.c_str ());
  g_rmdir (dir);
}

void
test_durations (void)
{
  g_assert_cmpint (parse_duration ("90"), ==, 90);
  g_assert_cmpint (parse_duration ("90s"), ==, 90);
  g_assert_cmpint (parse_duration ("15m"), ==, 900);
  g_assert_cmpint (parse_duration ("1h"), ==, 3600);
  g_assert_cmpint (parse_duration ("7d"), ==, 7 * 86400);
  for (const char *bad : {"", "h", "1x", "-5", "1.5h", "99999999999"})
    g_assert_cmpint (parse_duration (bad), ==, -1);
}

void
test_turn_rest_credentials (void)
{
  std::string user = turn_rest_username (1700000000, "alice");
  g_assert_cmpstr (user.c_str (), ==, "1700000000:alice");
  // Python: base64(hmac.new(b'north', b'1700000000:alice', sha1).digest())
  std::string password = turn_rest_password ("north", user);
  g_assert_cmpstr (password.c_str (), ==, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
}

void
test_ice_server_urls (void)
{
  std::string json, error;
  g_assert_true (ice_servers_to_json ({"none"}, json, error));
  g_assert_cmpstr (json.c_str (), ==, "[]");
  g_assert_true (ice_servers_to_json ({"stun:198.51.100.1:3478",
          "turn://us%3Aer:p%2Bw@198.51.100.2:3478?transport=udp"}, json, error));
  g_assert_cmpstr (json.c_str (), ==, "[{\"urls\":\"stun:198.51.100.1:3478\"},"
      "{\"urls\":\"turn:198.51.100.2:3478?transport=udp\",\"username\":\"us:er\","
      "\"credential\":\"p+w\"}]");
  for (const char *bad : {"http://x", "stun:", "turn://nouser@h:1", "stun:a b"}) {
    g_assert_false (ice_servers_to_json ({bad}, json, error));
    g_assert_true (error.find (bad) != std::string::npos);
  }
}

void
test_rate_limit (void)
{
  gint64 clock_us = 0;
  RegistryConfig config;
  config.messages_per_second = 10;
  config.burst = 20;
  config.now_us = [&clock_us] { return clock_us; };
  config.add_ice_servers = [] (JsonArray *ice, const std::string &peer) {
    JsonObject *turn = json_object_new ();
    json_object_set_string_member (turn, "urls", "turn:198.51.100.3:3478");
    json_object_set_string_member (turn, "username", peer.c_str ());
    json_array_add_object_element (ice, turn);
  };
  RoomRegistry registry (config);
  std::vector<Outgoing> out;
  registry.handle_text (1, proto::build_join ("r", "", ""), out);
  registry.handle_text (2, proto::build_join ("r", "", ""), out);

  // Each joiner gets its own credentials.
  proto::ParseError perr;
  proto::JsonObjectPtr joined = proto::parse_message (out[0].text, perr);
  JsonArray *ice = json_object_get_array_member (joined.get (), "iceServers");
  g_assert_cmpuint (json_array_get_length (ice), ==, 1);
  std::string id1 = registry.peer_id (1);
  g_assert_cmpstr (proto::get_string (json_array_get_object_element (ice, 0),
          "username"), ==, id1.c_str ());
  out.clear ();

  // A flood from 1: the burst goes through, then one refusal, then nothing.
  int relayed = 0, refusals = 0;
  for (int i = 0; i < 100; i++) {
    registry.handle_text (1, proto::build_description (proto::kOffer, "x", ""),
        out);
    for (auto &o : out) {
      if (o.to == 2)
        relayed++;
      else if (o.text.find (proto::kErrRateLimited) != std::string::npos)
        refusals++;
    }
    out.clear ();
  }
  g_assert_cmpint (relayed, ==, 19);    // the join took one token
  g_assert_cmpint (refusals, ==, 1);

  // Peer 2 is not affected.
  registry.handle_text (2, proto::build_description (proto::kOffer, "y", ""), out);
  g_assert_cmpuint (out.size (), ==, 1);
  g_assert_cmpuint (out[0].to, ==, 1);
  out.clear ();

  // A second later ten more tokens.
  clock_us += G_USEC_PER_SEC;
  relayed = 0;
  for (int i = 0; i < 15; i++) {
    registry.handle_text (1, proto::build_description (proto::kOffer, "x", ""),
        out);
  }
  for (auto &o : out)
    relayed += o.to == 2;
  g_assert_cmpint (relayed, ==, 10);
}

}  // namespace

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, nullptr);
  g_test_add_func ("/access/tokens", test_tokens);
  g_test_add_func ("/access/public-key-tokens", test_public_key_tokens);
  g_test_add_func ("/access/algorithm-confusion", test_algorithm_confusion);
  g_test_add_func ("/access/time-and-audience-claims",
      test_time_and_audience_claims);
  g_test_add_func ("/access/public-key-files", test_public_key_files);
  g_test_add_func ("/access/durations", test_durations);
  g_test_add_func ("/access/turn-rest-credentials", test_turn_rest_credentials);
  g_test_add_func ("/access/ice-server-urls", test_ice_server_urls);
  g_test_add_func ("/access/rate-limit", test_rate_limit);
  return g_test_run ();
}
