package dev.backup.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/backup, the launcher: the first run of a role writes its class-data archive (a file of
 * its own), the next one takes it into place and the ones after map it; the command's
 * output is the jar's, nothing added; BACKUP_CDS=off writes nothing.
 */
class LauncherIT {
  @TempDir
  Path dir;

  private String run(Path cds, String... env) throws Exception {
    Process p = start(cds, env);
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isZero();
    return out;
  }

  private Process start(Path cds, String... env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(ClusterProcesses.LAUNCHER.toString(), "--role=client", "--version")
        .redirectErrorStream(true);
    pb.environment().put("BACKUP_JAR", ClusterProcesses.JAR.toString());
    pb.environment().put("BACKUP_CDS_DIR", cds.toString());
    pb.environment().put("PATH", Path.of(System.getProperty("java.home"), "bin") + ":" + System.getenv("PATH"));
    for (int i = 0; i < env.length; i += 2) {
      pb.environment().put(env[i], env[i + 1]);
    }
    return pb.start();
  }

  private static List<String> names(Path d) throws Exception {
    if (!Files.exists(d)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void theArchiveIsWrittenOnceThenUsedAndTheOutputIsTheJars() throws Exception {
    Path cds = dir.resolve("cds");
    String first = run(cds);
    assertThat(first).startsWith("backup ").hasLineCount(1);
    assertThat(names(cds)).singleElement().asString().startsWith("client-").endsWith(".part");
    assertThat(run(cds)).isEqualTo(first);
    assertThat(names(cds)).singleElement().asString().startsWith("client-").endsWith(".jsa");
    assertThat(Files.size(cds.resolve(names(cds).get(0)))).isPositive();
    assertThat(run(cds)).isEqualTo(first);
    assertThat(names(cds)).hasSize(1);

    Path off = dir.resolve("off");
    assertThat(run(off, "BACKUP_CDS", "off")).isEqualTo(first);
    assertThat(names(off)).isEmpty();
  }

  @Test
  void firstRunsAtOnceAllSucceedAndOneArchiveIsKept() throws Exception {
    Path cds = dir.resolve("cds");
    List<Process> runs = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      runs.add(start(cds));
    }
    for (Process p : runs) {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor()).as(out).isZero();
      assertThat(out).startsWith("backup ").hasLineCount(1);
    }
    // Each wrote an archive of its own (or, started late, used one already in place).
    assertThat(names(cds)).isNotEmpty().allMatch(n -> n.startsWith("client-") && (n.endsWith(".part")
        || n.endsWith(".jsa")));
    run(cds);
    assertThat(names(cds)).singleElement().asString().endsWith(".jsa");
  }

  @Test
  void theClientCompilesOnlyWhatIsHotUnlessToldOtherwise() throws Exception {
    Path cds = dir.resolve("jit");
    String lean = run(cds, "BACKUP_CDS", "off", "JAVA_OPTS", "-XX:+PrintFlagsFinal");
    assertThat(lean).containsPattern("Tier4InvocationThreshold\\s+= 50000\\b");
    String plain = run(cds, "BACKUP_CDS", "off", "JAVA_OPTS", "-XX:+PrintFlagsFinal", "BACKUP_CLIENT_JIT", "default");
    assertThat(plain).containsPattern("Tier4InvocationThreshold\\s+= 5000\\b");
  }
}
