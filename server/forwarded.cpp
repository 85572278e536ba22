#include "forwarded.h"

#include <algorithm>

namespace p2pcall::server {

namespace {

std::string
to_string (GInetAddress * address)
{
  g_autofree char *text = g_inet_address_to_string (address);
  return text;
}

// One hop as a proxy writes it: 203.0.113.7, "203.0.113.7:4711",
// "[2001:db8::1]:4711", 2001:db8::1. nullptr for anything else ("unknown",
// obfuscated identifiers).
GInetAddress *
parse_hop (std::string hop)
{
  hop.erase (0, hop.find_first_not_of (" \t\""));
  hop.erase (hop.find_last_not_of (" \t\"") + 1);
  if (!hop.empty () && hop[0] == '[') {
    std::size_t end = hop.find (']');
    if (end == std::string::npos)
      return nullptr;
    hop = hop.substr (1, end - 1);
  } else if (std::count (hop.begin (), hop.end (), ':') == 1) {
    hop = hop.substr (0, hop.find (':'));   // IPv4 with a port
  }
  return g_inet_address_new_from_string (hop.c_str ());
}

// The for= values of a Forwarded header, in order: 'for=a, for="b";proto=https'.
std::vector<std::string>
forwarded_for (const char *header)
{
  std::vector<std::string> hops;
  g_auto (GStrv) elements = g_strsplit (header, ",", -1);
  for (char **e = elements; *e; e++) {
    g_auto (GStrv) pairs = g_strsplit (*e, ";", -1);
    for (char **p = pairs; *p; p++) {
      g_autofree char *pair = g_strstrip (g_strdup (*p));
      if (g_ascii_strncasecmp (pair, "for=", 4) == 0)
        hops.emplace_back (pair + 4);
    }
  }
  return hops;
}

}  // namespace

bool
TrustedProxies::parse (const std::vector<std::string> & entries,
    std::string & error)
{
  for (const std::string &entry : entries) {
    g_autoptr (GError) err = nullptr;
    GInetAddressMask *mask = g_inet_address_mask_new_from_string (
        entry.c_str (), &err);
    if (!mask) {
      error = "trusted proxy \"" + entry + "\" is not an address or a CIDR "
          "range (such as 127.0.0.1 or 10.0.0.0/8)";
      return false;
    }
    masks_.emplace_back (mask, g_object_unref);
  }
  return true;
}

bool
TrustedProxies::trusts (GInetAddress * address) const
{
  return std::any_of (masks_.begin (), masks_.end (), [address] (auto &m) {
        return g_inet_address_mask_matches (m.get (), address);
      });
}

std::string
TrustedProxies::client (GInetAddress * peer, const char *forwarded,
    const char *x_forwarded_for) const
{
  if (!trusts (peer))
    return to_string (peer);
  std::vector<std::string> hops;
  if (forwarded && *forwarded) {
    hops = forwarded_for (forwarded);
  } else if (x_forwarded_for && *x_forwarded_for) {
    g_auto (GStrv) parts = g_strsplit (x_forwarded_for, ",", -1);
    hops.assign (parts, parts + g_strv_length (parts));
  }
  std::string client = to_string (peer);
  for (auto hop = hops.rbegin (); hop != hops.rend (); ++hop) {
    g_autoptr (GInetAddress) address = parse_hop (*hop);
    if (!address)
      return to_string (peer);
    client = to_string (address);
    if (!trusts (address))
      break;
  }
  return client;
}

}  // namespace p2pcall::server
