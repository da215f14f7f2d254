package dev.backup.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ScramTest {
  private static final byte[] SALT = "0123456789abcdef".getBytes();

  @Test
  void aProofFromTheRightSecretIsAccepted() {
    byte[] stored = Scram.storedKey("s3cret", SALT, 1000);
    String msg = Scram.authMessage("alice", "cn", "sn");
    assertThat(Scram.check(stored, msg, Scram.proof("s3cret", SALT, 1000, msg))).isTrue();
  }

  @Test
  void aWrongSecretSaltIterationsOrExchangeIsRefused() {
    byte[] stored = Scram.storedKey("s3cret", SALT, 1000);
    String msg = Scram.authMessage("alice", "cn", "sn");
    assertThat(Scram.check(stored, msg, Scram.proof("s3cres", SALT, 1000, msg))).isFalse();
    assertThat(Scram.check(stored, msg, Scram.proof("s3cret", "0123456789abcdeX".getBytes(), 1000, msg))).isFalse();
    assertThat(Scram.check(stored, msg, Scram.proof("s3cret", SALT, 999, msg))).isFalse();
    // A proof is bound to its user and nonces: replaying it in another exchange fails.
    byte[] proof = Scram.proof("s3cret", SALT, 1000, msg);
    assertThat(Scram.check(stored, Scram.authMessage("alice", "cn", "other"), proof)).isFalse();
    assertThat(Scram.check(stored, Scram.authMessage("bob", "cn", "sn"), proof)).isFalse();
    assertThat(Scram.check(stored, msg, null)).isFalse();
    assertThat(Scram.check(stored, msg, new byte[3])).isFalse();
  }

  @Test
  void theStoredKeyIsNotAProof() {
    // Knowing the verifier (a stolen users file) is not enough to sign in.
    byte[] stored = Scram.storedKey("s3cret", SALT, 1000);
    String msg = Scram.authMessage("alice", "cn", "sn");
    assertThat(Scram.check(stored, msg, stored)).isFalse();
    assertThat(Scram.check(stored, msg, Scram.hmac(stored, msg))).isFalse();
  }

  @Test
  void matchesPbkdf2TestVector() {
    // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64), first 32 bytes.
    byte[] dk = Scram.saltedPassword("passwd", "salt".getBytes(), 1);
    assertThat(java.util.HexFormat.of().formatHex(dk))
        .isEqualTo("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
  }

  @Test
  void randomValuesAreBase64UrlOfTheAskedLength() {
    String s = Scram.random(32);
    assertThat(s).matches("[A-Za-z0-9_-]{43}");
    assertThat(Scram.unb64(s)).hasSize(32);
    assertThat(Scram.unb64("not base64!")).isNull();
  }
}
