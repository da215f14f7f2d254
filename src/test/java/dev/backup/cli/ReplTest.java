package dev.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.InProcessCluster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jline.reader.Candidate;
import org.jline.reader.LineReader;
import org.jline.reader.impl.DefaultParser;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The REPL driven through a JLine terminal on plain streams, against an in-process cluster. */
class ReplTest {
  @TempDir
  static Path dir;
  static InProcessCluster cluster;
  static ClientSession session;

  @BeforeAll
  static void start() throws Exception {
    cluster = new InProcessCluster(dir, 3);
    Path root = dir.resolve("client");
    Files.createDirectories(root.resolve("docs"));
    Files.writeString(root.resolve("alpha.txt"), "alpha");
    Files.writeString(root.resolve("beta.txt"), "beta");
    Files.writeString(root.resolve("gamma.txt"), "gamma");
    Files.writeString(root.resolve("docs/delta.txt"), "delta");
    session = new ClientSession(cluster::clientConfig);
  }

  @AfterAll
  static void stop() {
    session.close();
    cluster.close();
  }

  private static String run(String script, Path history) throws Exception {
    return run(session, script, history);
  }

  /**
   * Types the script into a terminal line by line, as a person would: each line once the
   * prompt for it is shown. The script must end with quit. Returns what was shown.
   */
  private static String run(ClientSession s, String script, Path history) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    java.io.PipedOutputStream keys = new java.io.PipedOutputStream();
    java.io.PipedInputStream in = new java.io.PipedInputStream(keys, 1 << 16);
    String[] lines = script.split("\n");
    Thread typist = new Thread(() -> {
      try {
        for (int i = 0; i < lines.length; i++) {
          long deadline = System.currentTimeMillis() + 30_000;
          while (prompts(out) <= i && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
          }
          keys.write((lines[i] + "\n").getBytes(StandardCharsets.UTF_8));
          keys.flush();
        }
        // Keep the write end alive until the REPL has read everything.
        while (!Thread.currentThread().isInterrupted()) {
          Thread.sleep(50);
        }
      } catch (Exception e) {
        // the REPL ended: nothing more to type
      }
    }, "typist");
    typist.start();
    try (Terminal t = TerminalBuilder.builder().system(false).type("xterm").size(new org.jline.terminal.Size(200, 50))
        .streams(in, out).encoding(StandardCharsets.UTF_8).build()) {
      int code = new Repl(s, () -> false).run(t, history);
      assertThat(code).isZero();
    } finally {
      typist.interrupt();
      typist.join(5000);
      keys.close();
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static int prompts(ByteArrayOutputStream out) {
    String text;
    synchronized (out) {
      text = out.toString(StandardCharsets.UTF_8);
    }
    int n = 0;
    for (int i = text.indexOf("> "); i >= 0; i = text.indexOf("> ", i + 1)) {
      if (text.startsWith("backup ", Math.max(0, text.lastIndexOf('\n', i) + 1))
          || text.lastIndexOf("backup ", i) > text.lastIndexOf('\n', i)) {
        n++;
      }
    }
    return n;
  }

  @Test
  void numberedListBackupByNumberAndRangeHelpAndHistory() throws Exception {
    Path history = dir.resolve("history");
    String out = run("files\nbackup 1-2 4\nlist\nhelp\nhelp restore\nquit\n", history);
    // files: sorted, numbered
    assertThat(out).containsSubsequence("1", "alpha.txt", "2", "beta.txt", "3", "docs/delta.txt", "4", "gamma.txt");
    assertThat(out).contains("backed up alpha.txt").contains("backed up beta.txt").contains("backed up gamma.txt")
        .doesNotContain("backed up docs/delta.txt").contains("3 of 3 files backed up");
    assertThat(out).contains("Commands (type 'help COMMAND'").contains("restore").contains("replicas")
        .contains("Usage:  restore");
    // No colour off a real console.
    assertThat(out).doesNotContain("\u001B[31m").doesNotContain("\u001B[32m");
    assertThat(Files.readString(history)).contains("backup 1-2 4").contains("files");

    // A second session sees the marks of backed-up files and keeps the history.
    String again = run("files\nbackup 9\nquit\n", history);
    assertThat(again).containsPattern("1 \\*\\s+5 B\\s+alpha.txt").containsPattern("4 \\*\\s+5 B\\s+gamma.txt");
    assertThat(again).contains("error: no file number 9 ('files' lists 1 to 4)");
    assertThat(Files.readString(history)).contains("backup 1-2 4").contains("backup 9");
  }

  @Test
  void completesCommandsLocalPathsAndBackedUpNames() throws Exception {
    cluster.client.upload(dir.resolve("client/docs/delta.txt").toString(), "docs/delta.txt", 2).await();
    try (Terminal t = TerminalBuilder.builder().system(false).type("xterm").size(new org.jline.terminal.Size(200, 50))
        .streams(new ByteArrayInputStream(new byte[0]), new ByteArrayOutputStream()).build()) {
      Repl repl = new Repl(session, () -> false);
      LineReader reader = repl.reader(t, repl.commandLine(t.writer()), dir.resolve("history2"));
      assertThat(complete(reader, "res")).contains("restore");
      assertThat(complete(reader, "backup ga")).contains("gamma.txt", "docs/", "alpha.txt");
      assertThat(complete(reader, "restore d")).contains("docs/", "docs/delta.txt").doesNotContain("gamma.txt");
      assertThat(complete(reader, "backup --r")).contains("--replicas");
    }
  }

  private static List<String> complete(LineReader reader, String line) {
    List<Candidate> candidates = new ArrayList<>();
    ((org.jline.reader.impl.LineReaderImpl) reader).getCompleter().complete(reader, new DefaultParser().parse(line, line.length()), candidates);
    return candidates.stream().map(Candidate::value).toList();
  }

  @Test
  void theReplStartsWhenTheManagerIsAwayAndSaysSo() throws Exception {
    ClientSession away = new ClientSession(() -> dev.backup.TestSupport.config(dev.backup.config.Role.client, 0, 0,
        dev.backup.TestSupport.freePort(), dir.resolve("client")));
    String text;
    try {
      text = run(away, "status\nfiles\nquit\n", dir.resolve("history3"));
    } finally {
      away.close();
    }
    assertThat(text).contains("is not reachable yet").contains("error: cannot reach the manager")
        .contains("alpha.txt");
  }
}
