package dev.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.InProcessCluster;
import dev.backup.TestCerts;
import dev.backup.TestSupport;
import dev.backup.TestSupport.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The container health check and the start-up checks of the TLS settings, through the command line. */
class HealthTlsTest {
  static TestCerts.Set certs;
  static InProcessCluster cluster;

  @TempDir
  static Path dir;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.make(dir.resolve("tls"));
    cluster = new InProcessCluster(dir.resolve("cluster"), 0, c -> c.withTls(certs.cert(), certs.key(), certs.ca()));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static Run run(Map<String, String> env, String... args) {
    return TestSupport.command(env, args);
  }

  static Map<String, String> managerEnv(boolean tls) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("BACKUP_CONF", Files.writeString(Files.createTempFile(dir, "conf", ".properties"), "").toString());
    env.put("BACKUP_ROLE", "manager");
    env.put("BACKUP_PORT", String.valueOf(cluster.managerPort));
    if (tls) {
      env.put("BACKUP_TLS", "true");
      env.put("BACKUP_TLS_CERT", certs.cert().toString());
      env.put("BACKUP_TLS_KEY", certs.key().toString());
      env.put("BACKUP_TLS_CA", certs.ca().toString());
    }
    return env;
  }

  @Test
  void theHealthCheckSpeaksTls() throws Exception {
    Run r = run(managerEnv(true), "health");
    assertThat(r.err()).isEmpty();
    assertThat(r.out().strip()).isEqualTo("ready");
    assertThat(r.code()).isZero();
    // The same from flags.
    Run flags = run(managerEnv(false), "--tls", "--tls-cert", certs.cert().toString(), "--tls-key",
        certs.key().toString(), "--tls-ca", certs.ca().toString(), "health");
    assertThat(flags.out().strip()).isEqualTo("ready");
    assertThat(flags.code()).isZero();
  }

  @Test
  void aPlainHealthCheckOfATlsManagerFailsClearly() throws Exception {
    Run r = run(managerEnv(false), "health");
    assertThat(r.code()).isEqualTo(6);
    assertThat(r.err().strip()).startsWith("error: not ready: 127.0.0.1:" + cluster.managerPort).doesNotContain("\n");
  }

  @Test
  void aMissingTlsFileStopsTheStartWithOneLine() throws Exception {
    Map<String, String> env = managerEnv(true);
    env.put("BACKUP_TLS_KEY", dir.resolve("no-such-key.pem").toString());
    Run r = run(env, "health");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).isEqualTo("error: tls-key: no such file: " + dir.resolve("no-such-key.pem"));
  }
}
