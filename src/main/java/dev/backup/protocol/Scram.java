package dev.backup.protocol;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The arithmetic of the client's sign-in to the manager, after SCRAM-SHA-256 (RFC 5802,
 * 7677): the secret never crosses the wire and the manager keeps only a verifier from
 * which the secret cannot be used to sign in.
 *
 * <pre>
 *   SaltedPassword = PBKDF2-HMAC-SHA256(secret, salt, iterations)
 *   ClientKey      = HMAC(SaltedPassword, "Client Key")
 *   StoredKey      = SHA256(ClientKey)                       (what the manager keeps)
 *   AuthMessage    = "backup-auth-v1\n" user "\n" clientNonce "\n" serverNonce
 *   ClientProof    = ClientKey XOR HMAC(StoredKey, AuthMessage)
 * </pre>
 *
 * The manager recovers ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage) and
 * accepts when SHA256(ClientKey) equals StoredKey. PBKDF2 is deliberate CPU work: call
 * {@link #storedKey} and {@link #proof} off any event loop.
 */
public final class Scram {
  public static final int DEFAULT_ITERATIONS = 100_000;
  private static final SecureRandom RANDOM = new SecureRandom();

  private Scram() {
  }

  /** A fresh random value of {@code bytes} bytes, base64url without padding (secrets, salts, nonces). */
  public static String random(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return b64(b);
  }

  public static byte[] saltedPassword(String secret, byte[] salt, int iterations) {
    try {
      PBEKeySpec spec = new PBEKeySpec(secret.toCharArray(), salt, iterations, 256);
      return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public static byte[] clientKey(byte[] saltedPassword) {
    return hmac(saltedPassword, "Client Key");
  }

  /** The verifier the manager keeps for a secret: SHA256(ClientKey). */
  public static byte[] storedKey(String secret, byte[] salt, int iterations) {
    return sha256(clientKey(saltedPassword(secret, salt, iterations)));
  }

  public static String authMessage(String user, String clientNonce, String serverNonce) {
    return "backup-auth-v1\n" + user + "\n" + clientNonce + "\n" + serverNonce;
  }

  /** The client's proof that it knows the secret, bound to this exchange's nonces. */
  public static byte[] proof(String secret, byte[] salt, int iterations, String authMessage) {
    byte[] clientKey = clientKey(saltedPassword(secret, salt, iterations));
    return xor(clientKey, hmac(sha256(clientKey), authMessage));
  }

  /** Whether {@code proof} was made with the secret whose verifier is {@code storedKey}. */
  public static boolean check(byte[] storedKey, String authMessage, byte[] proof) {
    byte[] signature = hmac(storedKey, authMessage);
    if (proof == null || proof.length != signature.length) {
      return false;
    }
    return MessageDigest.isEqual(sha256(xor(proof, signature)), storedKey);
  }

  public static byte[] hmac(byte[] key, String data) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(key, "HmacSHA256"));
      return m.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] xor(byte[] a, byte[] b) {
    byte[] out = new byte[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = (byte) (a[i] ^ b[i]);
    }
    return out;
  }

  public static String b64(byte[] b) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** Decodes base64url; null for anything that is not. */
  public static byte[] unb64(String s) {
    if (s == null) {
      return null;
    }
    try {
      return Base64.getUrlDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
