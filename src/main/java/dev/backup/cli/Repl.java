package dev.backup.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.DefaultParser;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.shell.jline3.PicocliJLineCompleter;

/**
 * The interactive client: the client commands behind a JLine line editor, with
 * completion and history. Ctrl-C cancels the line, Ctrl-D (or quit/exit) leaves.
 */
final class Repl {
  @Command(name = "", description = "Commands (type 'help COMMAND' or 'COMMAND --help' for one):",
      subcommands = CommandLine.HelpCommand.class)
  static final class Root implements Runnable {
    @Override
    public void run() {
    }
  }

  private final Main main;
  private final CommandLine oneShot;

  Repl(Main main, CommandLine oneShot) {
    this.main = main;
    this.oneShot = oneShot;
  }

  int run() throws Exception {
    main.session.config();
    try (Terminal terminal = TerminalBuilder.builder().name("backup").system(true).build()) {
      PrintWriter out = terminal.writer();
      CommandLine repl = new CommandLine(new Root());
      ClientCommands.addAll(repl, main.session);
      repl.setOut(out);
      repl.setErr(out);
      Errors.install(repl, () -> main.verbose);
      Path history = Path.of(System.getProperty("user.home"), ".backup_history");
      LineReader reader = LineReaderBuilder.builder()
          .terminal(terminal)
          .appName("backup")
          .completer(new PicocliJLineCompleter(repl.getCommandSpec()))
          .parser(new DefaultParser())
          .variable(LineReader.HISTORY_FILE, history)
          .build();
      String prompt = "backup " + main.session.config().managerAddress() + "> ";
      out.println("backup client, manager at " + main.session.config().managerAddress()
          + ", root " + main.session.local().root() + ". Type 'help', or 'quit' to leave.");
      out.flush();
      while (true) {
        String line;
        try {
          line = reader.readLine(prompt);
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
      return 0;
    }
  }
}
