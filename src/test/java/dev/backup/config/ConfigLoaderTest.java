package dev.backup.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir
  Path dir;

  @Test
  void defaultsGiveAOneMachineCluster() {
    Config m = new ConfigLoader(Map.of("role", "manager", "conf", write("")), Map.of()).load();
    assertThat(m.port()).isEqualTo(7000);
    assertThat(m.host()).isEqualTo("127.0.0.1");
    assertThat(m.root()).isEqualTo(Path.of("roots/manager"));
    Config s = new ConfigLoader(Map.of("role", "server", "id", "3", "conf", write("")), Map.of()).load();
    assertThat(s.port()).isEqualTo(7003);
    assertThat(s.root()).isEqualTo(Path.of("roots/server-3"));
    assertThat(s.members()).containsExactly("127.0.0.1");
    Config c = new ConfigLoader(Map.of("role", "client", "conf", write("")), Map.of()).load();
    assertThat(c.managerAddress()).isEqualTo("127.0.0.1:7000");
  }

  @Test
  void flagBeatsEnvironmentBeatsFileBeatsDefault() {
    String conf = write("port=7100\nhost=10.0.0.1\nmembers=a,b:5702\nreplicas=3\n");
    Map<String, String> flags = new HashMap<>(Map.of("role", "server", "id", "1", "conf", conf, "port", "7200"));
    Map<String, String> env = Map.of("BACKUP_PORT", "7300", "BACKUP_HOST", "192.0.2.1");
    Config c = new ConfigLoader(flags, env).load();
    assertThat(c.port()).isEqualTo(7200);
    assertThat(c.host()).isEqualTo("192.0.2.1");
    assertThat(c.members()).containsExactly("a", "b:5702");
    assertThat(c.defaultReplicas()).isEqualTo(3);
    flags.remove("port");
    assertThat(new ConfigLoader(flags, env).load().port()).isEqualTo(7300);
    assertThat(new ConfigLoader(flags, Map.of()).load().port()).isEqualTo(7100);
  }

  @Test
  void roleAndConfFileCanComeFromTheEnvironment() {
    String conf = write("cluster-port=5801\n");
    Config c = new ConfigLoader(Map.of(), Map.of("BACKUP_ROLE", "server", "BACKUP_ID", "2", "BACKUP_CONF", conf)).load();
    assertThat(c.role()).isEqualTo(Role.server);
    assertThat(c.id()).isEqualTo(2);
    assertThat(c.clusterPort()).isEqualTo(5801);
  }

  @Test
  void badValuesAreClearErrors() {
    String conf = write("");
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "server", "conf", conf), Map.of()).load())
        .hasMessageContaining("--id");
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "manager", "port", "x", "conf", conf), Map.of()).load())
        .hasMessageContaining("'port' must be a number");
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "boss", "conf", conf), Map.of()).load())
        .hasMessageContaining("unknown role");
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "client", "conf", dir.resolve("nope").toString()), Map.of()).load())
        .hasMessageContaining("configuration file not found");
  }

  @Test
  void theHealingGraceIsTenSecondsUnlessSetAndAtMostAnHour() {
    String conf = write("heal-grace-seconds=30\n");
    assertThat(new ConfigLoader(Map.of("role", "manager", "conf", write("")), Map.of()).load().healGraceSeconds())
        .isEqualTo(10);
    assertThat(new ConfigLoader(Map.of("role", "manager", "conf", conf), Map.of()).load().healGraceSeconds())
        .isEqualTo(30);
    assertThat(new ConfigLoader(Map.of("role", "manager", "conf", conf), Map.of("BACKUP_HEAL_GRACE_SECONDS", "0"))
        .load().healGraceSeconds()).isZero();
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "manager", "conf", write("heal-grace-seconds=-1\n")),
        Map.of()).load()).hasMessageContaining("heal-grace-seconds must be between 0 and 3600");
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "manager", "conf", write("heal-grace-seconds=3601\n")),
        Map.of()).load()).hasMessageContaining("heal-grace-seconds must be between 0 and 3600");
  }

  @Test
  void tlsKeysComeFromFileAndEnvironmentAndTheirFilesAreChecked() throws Exception {
    Path ca = Files.writeString(dir.resolve("ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    Path cert = Files.writeString(dir.resolve("cert.pem"), Files.readString(ca));
    Path key = Files.writeString(dir.resolve("key.pem"), "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
    String conf = write("tls=true\ntls-cert=" + cert + "\ntls-key=" + key + "\n");
    Config c = new ConfigLoader(Map.of("role", "manager", "conf", conf), Map.of("BACKUP_TLS_CA", ca.toString())).load();
    assertThat(c.tls()).isTrue();
    assertThat(c.tlsCert()).isEqualTo(cert);
    assertThat(c.tlsKey()).isEqualTo(key);
    assertThat(c.tlsCa()).isEqualTo(ca);
    assertThat(new ConfigLoader(Map.of("role", "manager", "conf", write("")), Map.of()).load().tls()).isFalse();
    // A client needs only the CA to trust.
    assertThat(new ConfigLoader(Map.of("role", "client", "conf", write("tls=yes\ntls-ca=" + ca)), Map.of()).load()
        .tls()).isTrue();

    Map<String, String> env = Map.of("BACKUP_TLS_CA", ca.toString());
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "manager", "conf", write("tls=true\ntls-cert=" + cert)),
        env).load()).isInstanceOfSatisfying(dev.backup.protocol.BackupException.class, e -> {
          assertThat(e.code()).isEqualTo(dev.backup.protocol.ErrorCode.USAGE);
          assertThat(e.getMessage()).contains("tls-key is not set").contains("BACKUP_TLS_KEY");
        });
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "server", "id", "1",
        "conf", write("tls=true\ntls-cert=" + dir.resolve("missing.pem") + "\ntls-key=" + key)), env).load())
        .hasMessage("tls-cert: no such file: " + dir.resolve("missing.pem"));
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "server", "id", "1",
        "conf", write("tls=true\ntls-cert=" + key + "\ntls-key=" + key)), env).load())
        .hasMessageContaining("tls-cert: " + key + " is not a PEM file of this element's certificate");
    assertThatThrownBy(() -> new ConfigLoader(Map.of("role", "client", "conf", write("tls=maybe")), Map.of()).load())
        .hasMessageContaining("'tls' must be true or false");
  }

  private String write(String content) {
    try {
      Path p = Files.createTempFile(dir, "conf", ".properties");
      Files.writeString(p, content);
      return p.toString();
    } catch (java.io.IOException e) {
      throw new RuntimeException(e);
    }
  }
}
