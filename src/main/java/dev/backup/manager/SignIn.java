package dev.backup.manager;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Scram;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * One client connection's sign-in, the manager's side of {@link Scram}: {@code hello}
 * (user, client nonce) is answered with the user's salt, iterations and a server nonce;
 * {@code auth} (proof) signs the connection in as that user. An unknown user gets a salt
 * made from its name, the same every time, and the same refusal as a wrong secret, so
 * the answers do not tell which users exist.
 */
final class SignIn {
  /** The one answer to a sign-in that fails, whatever the reason. */
  static final String REFUSED = "user or secret not accepted";

  private final byte[] decoyKey;
  private String user;
  private String asked;
  private String clientNonce;
  private String serverNonce;

  /** {@code decoySeed}: a value that only the manager knows (the cluster secret), for unknown users' salts. */
  SignIn(String decoySeed) {
    this.decoyKey = Scram.hmac(decoySeed.getBytes(StandardCharsets.UTF_8), "backup-decoy-v1");
  }

  /** The user this connection is signed in as, or null. */
  String user() {
    return user;
  }

  JsonObject hello(JsonObject req, Map<String, Users.User> users) {
    String name = req.getValue("user") instanceof String s ? s : null;
    String nonce = req.getValue("nonce") instanceof String s ? s : null;
    if (name == null || name.length() > 64 || nonce == null || nonce.length() < 16 || nonce.length() > 128) {
      throw new BackupException(ErrorCode.PROTOCOL, "hello needs a user and a nonce");
    }
    Users.User u = users.get(name);
    user = null;
    asked = name;
    clientNonce = nonce;
    serverNonce = Scram.random(24);
    byte[] salt = u != null ? u.salt() : Arrays.copyOf(Scram.hmac(decoyKey, "salt\n" + name), 16);
    int iterations = u != null ? u.iterations() : Scram.DEFAULT_ITERATIONS;
    return new JsonObject().put("salt", Scram.b64(salt)).put("iterations", iterations).put("nonce", serverNonce);
  }

  /** Checks the proof of the last hello (one try each); DENIED with {@link #REFUSED} when it fails. */
  JsonObject auth(JsonObject req, Map<String, Users.User> users) {
    if (asked == null) {
      throw new BackupException(ErrorCode.PROTOCOL, "auth without hello");
    }
    String name = asked;
    asked = null;
    Users.User u = users.get(name);
    byte[] proof = Scram.unb64(req.getValue("proof") instanceof String s ? s : null);
    byte[] stored = u != null ? u.storedKey() : Scram.sha256(Scram.hmac(decoyKey, "key\n" + name));
    boolean ok = Scram.check(stored, Scram.authMessage(name, clientNonce, serverNonce), proof);
    if (!ok || u == null) {
      throw new BackupException(ErrorCode.DENIED, REFUSED);
    }
    user = name;
    return new JsonObject().put("user", name);
  }
}
