package dev.backup;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Throwaway TLS material for tests: a certificate authority and one certificate it signs
 * for 127.0.0.1 and localhost, as PEM files. Made with the JDK's own keytool (no other
 * tool or library needed); the private key is written as PKCS#8 PEM from the key store.
 */
public final class TestCerts {
  private static final String PASS = "changeit";

  /** The PEM files of one set: the CA to trust, and an element's certificate and key. */
  public record Set(Path ca, Path cert, Path key) {
  }

  private TestCerts() {
  }

  public static Set make(Path dir) throws Exception {
    Files.createDirectories(dir);
    Path caStore = dir.resolve("ca.p12");
    Path nodeStore = dir.resolve("node.p12");
    Path csr = dir.resolve("node.csr");
    Set set = new Set(dir.resolve("ca.pem"), dir.resolve("node.pem"), dir.resolve("node.key"));
    keytool("-genkeypair", "-keystore", caStore.toString(), "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048",
        "-dname", "CN=backup test CA", "-ext", "bc:c", "-validity", "2");
    keytool("-exportcert", "-keystore", caStore.toString(), "-alias", "ca", "-rfc", "-file", set.ca().toString());
    keytool("-genkeypair", "-keystore", nodeStore.toString(), "-alias", "node", "-keyalg", "RSA", "-keysize", "2048",
        "-dname", "CN=backup test element", "-validity", "2");
    keytool("-certreq", "-keystore", nodeStore.toString(), "-alias", "node", "-file", csr.toString());
    keytool("-gencert", "-keystore", caStore.toString(), "-alias", "ca", "-infile", csr.toString(),
        "-outfile", set.cert().toString(), "-rfc", "-validity", "2",
        "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-ext", "EKU=serverAuth,clientAuth");
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(nodeStore)) {
      ks.load(in, PASS.toCharArray());
    }
    PrivateKey key = (PrivateKey) ks.getKey("node", PASS.toCharArray());
    Files.writeString(set.key(), "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
        + "\n-----END PRIVATE KEY-----\n", StandardCharsets.US_ASCII);
    return set;
  }

  private static void keytool(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    cmd.addAll(List.of("-storetype", "PKCS12", "-storepass", PASS, "-keypass", PASS, "-noprompt"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException("keytool " + String.join(" ", args) + " failed: " + out);
    }
  }
}
