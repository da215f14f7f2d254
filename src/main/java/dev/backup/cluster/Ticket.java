package dev.backup.cluster;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A transfer ticket: the manager's permission to store one version of one file on a
 * chain of servers, signed with an HMAC-SHA256 over its fields with the cluster secret
 * and valid until {@code expires} (epoch milliseconds).
 */
public record Ticket(String transferId, String access, String user, String name, long version, long size,
                     List<Hop> chain, long expires, String mac) {
  /** Access a ticket grants: store a new copy, or read an existing one. */
  public static final String PUT = "put";
  public static final String GET = "get";

  /** One server of a chain, as the manager told the client and the servers. */
  public record Hop(int id, String host, int port) {
    JsonObject toJson() {
      return new JsonObject().put("id", id).put("host", host).put("port", port);
    }
  }

  public static Ticket sign(String secret, String transferId, String name, long version, long size,
                            List<Hop> chain, long expires) {
    return sign(secret, transferId, PUT, name, version, size, chain, expires);
  }

  public static Ticket sign(String secret, String transferId, String access, String name, long version, long size,
                            List<Hop> chain, long expires) {
    return sign(secret, transferId, access, "", name, version, size, chain, expires);
  }

  /**
   * A ticket for a file of {@code user}'s namespace ({@code ""}: the unnamed one): the
   * name must lie under the user's folder, and the user is part of the signature.
   */
  public static Ticket sign(String secret, String transferId, String access, String user, String name, long version,
                            long size, List<Hop> chain, long expires) {
    Ticket unsigned = new Ticket(transferId, access, user, name, version, size, List.copyOf(chain), expires, "");
    return new Ticket(transferId, access, user, name, version, size, List.copyOf(chain), expires,
        hmac(secret, unsigned.canonical()));
  }

  /**
   * Checks the signature, the expiry and that {@code serverId} is hop {@code hop} of the
   * chain. Throws DENIED with a reason otherwise.
   */
  public void verify(String secret, String wantedAccess, int serverId, int hop, long now) {
    verify(secret, serverId, hop, now);
    if (!wantedAccess.equals(access)) {
      throw new BackupException(ErrorCode.DENIED, "ticket does not allow " + wantedAccess);
    }
  }

  public void verify(String secret, int serverId, int hop, long now) {
    String expected = hmac(secret, canonical());
    if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
        mac.getBytes(StandardCharsets.US_ASCII))) {
      throw new BackupException(ErrorCode.DENIED, "ticket signature is not valid");
    }
    if (now > expires) {
      throw new BackupException(ErrorCode.DENIED, "ticket expired; ask the manager again");
    }
    if (hop < 0 || hop >= chain.size() || chain.get(hop).id() != serverId) {
      throw new BackupException(ErrorCode.DENIED, "ticket is not for server " + serverId);
    }
    if (!user.isEmpty() && !name.startsWith(user + "/")) {
      throw new BackupException(ErrorCode.DENIED, "ticket is not for a file of its user");
    }
  }

  /**
   * What a server adds when it passes a transfer on to hop {@code hop} of the chain: an
   * HMAC with the cluster secret over the ticket's signature and the hop. Servers know the
   * secret, clients do not, so only a server of the cluster can send to a later hop.
   */
  public String relayProof(String secret, int hop) {
    return hmac(secret, "backup-relay-v1\n" + mac + "\n" + hop);
  }

  /** Checks a relay proof; DENIED when it is missing or wrong. */
  public void verifyRelay(String secret, int hop, String proof) {
    String expected = relayProof(secret, hop);
    if (proof == null || !MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
        proof.getBytes(StandardCharsets.US_ASCII))) {
      throw new BackupException(ErrorCode.DENIED, "only the previous server of the chain may send to hop " + hop);
    }
  }

  String canonical() {
    // A ticket of the unnamed namespace keeps the first form, so tickets already out stay valid.
    StringBuilder sb = new StringBuilder(user.isEmpty() ? "backup-ticket-v1\n" : "backup-ticket-v2\n" + user + "\n");
    sb.append(access).append('\n').append(transferId).append('\n').append(name).append('\n').append(version).append('\n')
        .append(size).append('\n');
    for (Hop h : chain) {
      sb.append(h.id()).append('@').append(h.host()).append(':').append(h.port()).append(',');
    }
    sb.append('\n').append(expires);
    return sb.toString();
  }

  private static String hmac(String secret, String data) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return HexFormat.of().formatHex(m.doFinal(data.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public JsonObject toJson() {
    JsonArray c = new JsonArray();
    chain.forEach(h -> c.add(h.toJson()));
    return new JsonObject().put("transferId", transferId).put("access", access).put("user", user).put("name", name).put("version", version)
        .put("size", size).put("chain", c).put("expires", expires).put("mac", mac);
  }

  /** Parses a ticket; malformed input is a PROTOCOL error. */
  public static Ticket fromJson(JsonObject j) {
    try {
      List<Hop> chain = new ArrayList<>();
      for (Object o : j.getJsonArray("chain")) {
        JsonObject h = (JsonObject) o;
        chain.add(new Hop(h.getInteger("id"), h.getString("host"), h.getInteger("port")));
      }
      Ticket t = new Ticket(j.getString("transferId"), j.getString("access", PUT), j.getString("user", ""),
          j.getString("name"), j.getLong("version"),
          j.getLong("size"), List.copyOf(chain), j.getLong("expires"), j.getString("mac"));
      if (t.transferId == null || t.access == null || t.user == null || t.name == null || t.mac == null || t.size < 0 || chain.isEmpty()) {
        throw new IllegalArgumentException("missing field");
      }
      return t;
    } catch (RuntimeException e) {
      throw new BackupException(ErrorCode.PROTOCOL, "malformed ticket");
    }
  }
}
