package dev.backup.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the end-to-end classes share: one cluster of real processes (a manager and four
 * servers) per class, every server running before each test, stopped after the class.
 */
abstract class EndToEndBase {
  @TempDir
  static Path dir;
  static ClusterProcesses cluster;

  /** Call from the class's {@code @BeforeAll}. */
  static void startCluster(Map<String, String> env) throws Exception {
    cluster = ClusterProcesses.start(dir, 4, env);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
  }

  @BeforeEach
  void allServersUp() throws Exception {
    cluster.ensureAllServersRunning(4);
  }

  static Path root() {
    return cluster.clientRoot();
  }

  /** Runs a client command that must succeed. */
  static ClusterProcesses.Result ok(String... args) throws Exception {
    ClusterProcesses.Result r = cluster.client(args);
    assertThat(r.exit()).as(String.join(" ", args) + " -> " + r.err()).isZero();
    return r;
  }
}
