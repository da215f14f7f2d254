package dev.backup.cli;

import dev.backup.client.LocalFiles;
import dev.backup.protocol.BackupException;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import org.jline.reader.Candidate;
import org.jline.reader.Completer;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.ParsedLine;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.DefaultParser;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.shell.jline3.PicocliJLineCompleter;

/**
 * The interactive client: the client commands behind a JLine line editor, with
 * completion (commands and options; local paths for backup; backed-up names for
 * restore, replicas, delete and verify) and history kept across sessions. Ctrl-C cancels
 * the line being typed or the transfer running; Ctrl-D, quit or exit leave.
 */
final class Repl {
  @Command(name = "", description = "Commands (type 'help COMMAND' or 'COMMAND --help' for one; quit or Ctrl-D leaves):",
      subcommands = CommandLine.HelpCommand.class)
  static final class Root implements Runnable {
    @Override
    public void run() {
    }
  }

  private static final List<String> REMOTE_COMMANDS = List.of("restore", "replicas", "delete", "verify");

  private final ClientSession session;
  private final BooleanSupplier verbose;

  Repl(ClientSession session, BooleanSupplier verbose) {
    this.session = session;
    this.verbose = verbose;
  }

  int run() throws Exception {
    session.config();
    try (Terminal terminal = TerminalBuilder.builder().name("backup").system(true).build()) {
      return run(terminal, Path.of(System.getProperty("user.home"), ".backup_history"));
    }
  }

  /** The command line the REPL runs lines through, writing to {@code out}. */
  CommandLine commandLine(PrintWriter out) {
    CommandLine repl = new CommandLine(new Root());
    ClientCommands.addAll(repl, session);
    repl.setOut(out);
    repl.setErr(out);
    Errors.install(repl, verbose);
    return repl;
  }

  LineReader reader(Terminal terminal, CommandLine repl, Path history) {
    return LineReaderBuilder.builder()
        .terminal(terminal)
        .appName("backup")
        .completer(new ReplCompleter(new PicocliJLineCompleter(repl.getCommandSpec())))
        .parser(new DefaultParser())
        .variable(LineReader.HISTORY_FILE, history)
        .build();
  }

  int run(Terminal terminal, Path history) {
    PrintWriter out = terminal.writer();
    CommandLine repl = commandLine(out);
    LineReader reader = reader(terminal, repl, history);
    String manager = session.config().managerAddress();
    out.println("backup client: manager " + manager + ", files in " + session.local().root());
    if (!managerReachable()) {
      out.println(Console.yellow("note:") + " the manager at " + manager + " is not reachable yet; "
          + "commands that need it fail until it is (it is tried again at each command)");
    }
    out.println("Type 'help' for the commands, 'files' for your files, 'quit' to leave.");
    out.flush();
    terminal.handle(Terminal.Signal.INT, sig -> session.cancel());
    while (true) {
      String line;
      try {
        line = reader.readLine("backup " + manager + "> ");
      } catch (UserInterruptException e) {
        continue;
      } catch (EndOfFileException e) {
        break;
      }
      List<String> words = reader.getParsedLine().words().stream().filter(w -> !w.isEmpty()).toList();
      if (words.isEmpty()) {
        continue;
      }
      if (words.get(0).equals("quit") || words.get(0).equals("exit")) {
        break;
      }
      repl.execute(words.toArray(new String[0]));
      out.flush();
    }
    try {
      reader.getHistory().save();
    } catch (java.io.IOException e) {
      // history is a convenience
    }
    return 0;
  }

  private boolean managerReachable() {
    try {
      session.client().request(new JsonObject().put("op", "status")).await();
      return true;
    } catch (BackupException e) {
      return false;
    }
  }

  /** Commands and options from picocli; paths from the client root or from the catalog. */
  final class ReplCompleter implements Completer {
    private final Completer commands;
    private List<String> remoteNames = List.of();
    private long remoteAt;

    ReplCompleter(Completer commands) {
      this.commands = commands;
    }

    @Override
    public void complete(LineReader reader, ParsedLine line, List<Candidate> candidates) {
      String word = line.word();
      if (line.wordIndex() == 0 || word.startsWith("-")) {
        commands.complete(reader, line, candidates);
        return;
      }
      String command = line.words().get(0);
      if (command.equals("backup") || (command.equals("verify") && line.words().contains("--local"))) {
        for (String p : localPaths()) {
          candidates.add(new Candidate(p, p, null, null, null, null, !p.endsWith("/")));
        }
      } else if (REMOTE_COMMANDS.contains(command)) {
        for (String p : withFolders(remoteNames())) {
          candidates.add(new Candidate(p, p, null, null, null, null, !p.endsWith("/")));
        }
      } else {
        commands.complete(reader, line, candidates);
      }
    }

    private List<String> localPaths() {
      LocalFiles local = session.local();
      return withFolders(local.all().stream().map(LocalFiles.LocalFile::name).toList());
    }

    private List<String> remoteNames() {
      if (System.currentTimeMillis() - remoteAt > 5000) {
        try {
          JsonObject list = session.client().list().await();
          List<String> names = new ArrayList<>();
          list.getJsonArray("files").forEach(o -> names.add(((JsonObject) o).getString("name")));
          remoteNames = names;
          remoteAt = System.currentTimeMillis();
        } catch (BackupException e) {
          return remoteNames;
        }
      }
      return remoteNames;
    }
  }

  /** The names and every folder above them (with a trailing /), sorted. */
  static List<String> withFolders(List<String> names) {
    TreeSet<String> all = new TreeSet<>();
    for (String n : names) {
      all.add(n);
      int i = n.indexOf('/');
      while (i > 0) {
        all.add(n.substring(0, i + 1));
        i = n.indexOf('/', i + 1);
      }
    }
    return new ArrayList<>(all);
  }
}
