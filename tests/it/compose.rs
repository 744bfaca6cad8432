//! The docker-compose stack (infra/docker-compose.yml, infra/docker/): validated by Debian's
//! docker-compose 1.29 (there is no Docker engine here) and checked for what a local stack
//! must hold: ports on 127.0.0.1 only, a health check on every service, pinned images,
//! every path it names present, secrets only in the git-ignored infra/.env. The scripts the
//! images run are plain bash and psql, so they also run here: the custom database's init
//! against two throwaway clusters (origin and custom, pg_cron preloaded), then the demo's
//! Sheets emulator set-up and the demo's pair, synced both ways as the container would.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value as Json;
use sheetbridge_postgres::{LocalCluster, LocalOptions};
use sheetbridge_sheets_emulator::{Emulator, Options};

use crate::{dump, load_examples, psql, stderr};

const COMPOSE: &str = "infra/docker-compose.yml";
const ENV_EXAMPLE: &str = "infra/.env.example";
const SERVICES: [&str; 5] = ["custom", "emulator", "origin", "postgrest", "sheetbridge"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| p.is_file())
}

/// Every `${NAME...}` of the compose file, with whether it must be set (`${NAME:?message}`).
fn compose_variables() -> BTreeMap<String, bool> {
    let text = read(&root().join(COMPOSE));
    let mut vars = BTreeMap::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("${") {
        rest = &rest[at + 2..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        assert!(!name.is_empty(), "{COMPOSE}: a `${{` without a variable name before: {}", &rest[..40]);
        let required = rest[name.len()..].starts_with(":?");
        *vars.entry(name).or_insert(false) |= required;
    }
    vars
}

/// `NAME=value` lines of an env file (comments and blank lines left out).
fn env_file(path: &Path) -> Vec<(String, String)> {
    read(path)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let (name, value) =
                l.split_once('=').unwrap_or_else(|| panic!("{}: `{l}` is not NAME=value", path.display()));
            (name.trim().to_owned(), value.to_owned())
        })
        .collect()
}

/// Runs `docker-compose -f infra/docker-compose.yml --env-file ENV ARGS`, with none of the
/// compose file's variables inherited from this process: the env file alone decides.
fn docker_compose(env: &Path, args: &[&str]) -> Output {
    let program = on_path("docker-compose").unwrap_or_else(|| {
        panic!("docker-compose is not installed: Debian's package (1.29) validates {COMPOSE} (apt-get install docker-compose; .ci/test installs it)")
    });
    let mut cmd = Command::new(program);
    cmd.arg("-f").arg(root().join(COMPOSE)).arg("--env-file").arg(env).args(args);
    for name in compose_variables().keys() {
        cmd.env_remove(name);
    }
    cmd.env_remove("COMPOSE_FILE").env_remove("COMPOSE_PROFILES").env_remove("COMPOSE_PROJECT_NAME");
    cmd.output().expect("running docker-compose")
}

/// YAML as JSON, through the Python that docker-compose itself runs on (its yaml module).
fn yaml_to_json(yaml: &str) -> Json {
    let compose = on_path("docker-compose").expect("docker-compose on PATH");
    let first = read(&compose).lines().next().unwrap_or_default().to_owned();
    let interpreter: Vec<&str> =
        first.strip_prefix("#!").map(|s| s.split_whitespace().collect()).unwrap_or_default();
    let (program, args) = match interpreter.split_first() {
        Some((program, args)) => (program.to_string(), args.to_vec()),
        None => ("python3".to_owned(), Vec::new()),
    };
    let mut child = Command::new(&program)
        .args(args)
        .args(["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {program} (docker-compose's Python, with its yaml module): {e}"));
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), yaml.as_bytes())
        .expect("writing YAML");
    let out = child.wait_with_output().expect("waiting for python");
    assert!(out.status.success(), "{program} could not read the YAML: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// `docker-compose config` with the example env file: the file as compose reads it
/// (variables substituted, paths absolute, short forms expanded).
fn config() -> Json {
    let out = docker_compose(&root().join(ENV_EXAMPLE), &["config"]);
    assert!(out.status.success(), "docker-compose config failed:\n{}", stderr(&out));
    yaml_to_json(&text(&out))
}

fn services(config: &Json) -> &serde_json::Map<String, Json> {
    config["services"].as_object().expect("config has services")
}

fn str_of(v: &Json) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, got {v}"))
}

#[test]
fn the_compose_file_validates_with_the_example_env_file() {
    let out = docker_compose(&root().join(ENV_EXAMPLE), &["config", "-q"]);
    assert!(out.status.success(), "docker-compose config -q failed:\n{}{}", text(&out), stderr(&out));
    let config = config();
    let names: Vec<&str> = services(&config).keys().map(String::as_str).collect();
    assert_eq!(names, SERVICES, "the services (infra/local/stack uses the same names)");
}

#[test]
fn every_secret_that_is_missing_fails_the_validation_and_is_named() {
    let required: Vec<String> =
        compose_variables().into_iter().filter(|(_, required)| *required).map(|(name, _)| name).collect();
    assert!(
        required.len() >= 6,
        "the passwords, the key file and the spreadsheet must be required: {required:?}"
    );
    for name in ["ORIGIN_PASSWORD", "CUSTOM_PASSWORD", "SHEETBRIDGE_DB_PASSWORD", "AUTHENTICATOR_PASSWORD"] {
        assert!(required.iter().any(|r| r == name), "{name} must be `${{{name}:?...}}` in {COMPOSE}");
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let example = env_file(&root().join(ENV_EXAMPLE));
    for name in &required {
        let env = dir.path().join(format!("{name}.env"));
        let lines: Vec<String> =
            example.iter().filter(|(n, _)| n != name).map(|(n, v)| format!("{n}={v}")).collect();
        std::fs::write(&env, lines.join("\n") + "\n").expect("writing an env file");
        let out = docker_compose(&env, &["config", "-q"]);
        assert!(!out.status.success(), "docker-compose config passed without {name}");
        let message = stderr(&out);
        assert!(
            message.contains(&format!("set {name} in infra/.env")),
            "without {name}, the error should say to set it in infra/.env; it said:\n{message}"
        );
    }
}

#[test]
fn every_published_port_listens_on_127_0_0_1_only() {
    let config = config();
    let mut published = 0;
    for (name, service) in services(&config) {
        assert!(service.get("network_mode").is_none(), "{name}: network_mode would bypass the port bindings");
        for port in service.get("ports").and_then(Json::as_array).into_iter().flatten() {
            let port = match port {
                Json::String(s) => s.clone(),
                Json::Object(o) => {
                    format!("{}:{}", o.get("host_ip").map(str_of).unwrap_or("0.0.0.0"), o["published"])
                }
                other => panic!("{name}: a port that is neither text nor a mapping: {other}"),
            };
            assert!(port.starts_with("127.0.0.1:"), "{name} publishes `{port}` beyond 127.0.0.1");
            published += 1;
        }
    }
    assert_eq!(published, SERVICES.len(), "each service publishes one port");
}

#[test]
fn every_service_has_a_health_check_and_waits_for_healthy_dependencies() {
    let config = config();
    for (name, service) in services(&config) {
        let check = &service["healthcheck"];
        let test = check["test"].as_array().unwrap_or_else(|| panic!("{name} has no health check"));
        assert!(
            matches!(test.first().map(str_of), Some("CMD" | "CMD-SHELL")) && test.len() >= 2,
            "{name}: the health check is {test:?}"
        );
        assert_ne!(check.get("disable"), Some(&Json::Bool(true)), "{name}: the health check is disabled");
        for program in health_programs(test) {
            assert!(
                image_provides(name, service, &program),
                "{name}: its health check runs `{program}`, which its image does not provide"
            );
        }
        if let Some(deps) = service.get("depends_on") {
            let deps =
                deps.as_object().unwrap_or_else(|| panic!("{name}: depends_on without conditions: {deps}"));
            for (dep, how) in deps {
                assert_eq!(how["condition"], "service_healthy", "{name} should wait for {dep} to be healthy");
            }
        }
    }
    let deps = |s: &str| -> BTreeSet<String> {
        services(&config)[s]
            .get("depends_on")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect()
    };
    assert_eq!(deps("custom"), BTreeSet::from(["origin".to_owned()]), "custom imports from origin");
    assert_eq!(deps("sheetbridge"), BTreeSet::from(["custom".to_owned(), "emulator".to_owned()]));
    assert!(deps("postgrest").contains("custom"), "PostgREST serves the custom database");
}

/// The programs a health check runs (the command of CMD; the known tools of a CMD-SHELL line).
fn health_programs(test: &[Json]) -> Vec<String> {
    match str_of(&test[0]) {
        "CMD" => vec![str_of(&test[1]).to_owned()],
        _ => str_of(&test[1])
            .split_whitespace()
            .filter(|w| ["curl", "wget", "pg_isready", "/bin/busybox"].contains(w))
            .map(str::to_owned)
            .collect(),
    }
}

/// Whether the image of `service` has `program`: a postgres image has pg_isready; a built
/// image has what its Dockerfile installs with apt-get or copies to that path.
fn image_provides(name: &str, service: &Json, program: &str) -> bool {
    let from_postgres = |image: &str| image.starts_with("postgres:");
    if let Some(image) = service.get("image").map(str_of) {
        return program == "pg_isready" && from_postgres(image);
    }
    let dockerfile = Dockerfile::of(name, service);
    let stages = dockerfile.stages_up_to(service["build"].get("target").map(str_of));
    stages.iter().any(|i| match (i.op.as_str(), program) {
        ("FROM", "pg_isready") => from_postgres(i.args.split_whitespace().next().unwrap_or("")),
        ("RUN", p) if !p.starts_with('/') => {
            i.args.contains("apt-get install")
                && i.args.split_whitespace().any(|w| w.trim_end_matches(';') == p)
        }
        ("COPY", p) if p.starts_with('/') => i.args.split_whitespace().last() == Some(p),
        _ => false,
    })
}

/// One instruction of a Dockerfile (continuation lines joined).
struct Instruction {
    op: String,
    args: String,
}

struct Dockerfile {
    path: PathBuf,
    context: PathBuf,
    instructions: Vec<Instruction>,
}

impl Dockerfile {
    fn of(name: &str, service: &Json) -> Dockerfile {
        let build = &service["build"];
        let context = PathBuf::from(str_of(&build["context"]));
        assert!(context.is_dir(), "{name}: the build context {} does not exist", context.display());
        let path = context.join(build.get("dockerfile").map(str_of).unwrap_or("Dockerfile"));
        assert!(path.is_file(), "{name}: the Dockerfile {} does not exist", path.display());
        let mut instructions = Vec::new();
        let mut pending = String::new();
        for line in read(&path).lines() {
            let line = line.trim();
            if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(part) => {
                    pending.push_str(part);
                    pending.push(' ');
                }
                None => {
                    pending.push_str(line);
                    let (op, args) = pending.trim().split_once(' ').unwrap_or((pending.trim(), ""));
                    instructions.push(Instruction { op: op.to_uppercase(), args: args.trim().to_owned() });
                    pending.clear();
                }
            }
        }
        Dockerfile { path, context, instructions }
    }

    /// The instructions of the stages a build of `target` (default: the last stage) runs.
    fn stages_up_to(&self, target: Option<&str>) -> &[Instruction] {
        let end = match target {
            None => self.instructions.len(),
            Some(target) => {
                let start = self
                    .instructions
                    .iter()
                    .position(|i| i.op == "FROM" && i.args.to_lowercase().ends_with(&format!(" as {target}")))
                    .unwrap_or_else(|| panic!("{}: no stage `{target}`", self.path.display()));
                self.instructions[start + 1..]
                    .iter()
                    .position(|i| i.op == "FROM")
                    .map_or(self.instructions.len(), |n| start + 1 + n)
            }
        };
        &self.instructions[..end]
    }
}

/// An image reference names a tag other than `latest` (or a digest).
fn pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    matches!(last.split_once(':'), Some((_, tag)) if !tag.is_empty() && tag != "latest")
}

#[test]
fn images_are_pinned_and_every_path_they_build_from_exists() {
    let config = config();
    let mut copied = BTreeSet::new();
    for (name, service) in services(&config) {
        // Files mounted into the containers.
        for volume in service.get("volumes").and_then(Json::as_array).into_iter().flatten() {
            let source = match volume {
                Json::String(s) => s.split(':').next().unwrap_or_default().to_owned(),
                Json::Object(o) => o.get("source").map(str_of).unwrap_or_default().to_owned(),
                _ => String::new(),
            };
            if source.starts_with('/') {
                assert!(Path::new(&source).exists(), "{name} mounts {source}, which does not exist");
            }
        }
        if let Some(image) = service.get("image").map(str_of) {
            assert!(pinned(image), "{name}: image `{image}` is not pinned to a tag");
            continue;
        }
        let dockerfile = Dockerfile::of(name, service);
        let ignored = DockerIgnore::of(&dockerfile.context);
        let mut stages = Vec::new();
        for i in &dockerfile.instructions {
            let words: Vec<&str> = i.args.split_whitespace().collect();
            match i.op.as_str() {
                "FROM" => {
                    let image = words.iter().find(|w| !w.starts_with("--")).expect("FROM names an image");
                    assert!(
                        stages.contains(&image.to_lowercase()) || pinned(image),
                        "{}: `FROM {image}` is not pinned to a tag",
                        dockerfile.path.display()
                    );
                    if let [.., as_, stage] = words.as_slice() {
                        if as_.eq_ignore_ascii_case("as") {
                            stages.push(stage.to_lowercase());
                        }
                    }
                }
                "COPY" | "ADD" => {
                    assert!(
                        !i.args.starts_with('['),
                        "{}: write COPY sources plainly",
                        dockerfile.path.display()
                    );
                    if let Some(from) = words.iter().find_map(|w| w.strip_prefix("--from=")) {
                        assert!(
                            stages.contains(&from.to_lowercase()) || pinned(from),
                            "{}: `COPY --from={from}` is neither a stage nor a pinned image",
                            dockerfile.path.display()
                        );
                        continue;
                    }
                    let paths: Vec<&&str> = words.iter().filter(|w| !w.starts_with("--")).collect();
                    for source in &paths[..paths.len() - 1] {
                        let relative = source.trim_end_matches('/');
                        let path = dockerfile.context.join(relative);
                        assert!(
                            path.exists(),
                            "{}: COPY source `{source}` does not exist at {}",
                            dockerfile.path.display(),
                            path.display()
                        );
                        if let Some(pattern) = ignored.excludes(relative) {
                            panic!(
                                "{}: COPY source `{source}` is excluded by .dockerignore's `{pattern}`",
                                dockerfile.path.display()
                            );
                        }
                        copied.insert(path.strip_prefix(root()).unwrap_or(&path).display().to_string());
                    }
                }
                _ => {}
            }
        }
        if name == "sheetbridge" || name == "emulator" {
            let user = dockerfile
                .stages_up_to(service["build"].get("target").map(str_of))
                .iter()
                .rev()
                .take_while(|i| i.op != "FROM")
                .find(|i| i.op == "USER")
                .map(|i| i.args.clone());
            assert!(
                matches!(user.as_deref(), Some(u) if u != "root" && u != "0"),
                "{name}: the image's last stage should run as a user other than root, not {user:?}"
            );
        }
    }
    for needed in
        ["sql/stack", "infra/docker/custom-postgres/stack-init.sh", "infra/docker/emulator/seed-demo.sh"]
    {
        assert!(copied.contains(needed), "no image copies {needed}; copied: {copied:?}");
    }
    // The origin's init scripts are mounted (the loop above saw they exist).
    let origin = &services(&config)["origin"];
    let mounts = origin["volumes"].to_string();
    assert!(
        mounts.contains("examples/demo/schema.sql") && mounts.contains("infra/docker/origin/reader.sh"),
        "{mounts}"
    );
}

/// The patterns of a build context's .dockerignore (`**`, `*` and plain names).
struct DockerIgnore {
    patterns: Vec<String>,
}

impl DockerIgnore {
    fn of(context: &Path) -> DockerIgnore {
        let file = context.join(".dockerignore");
        let patterns = if file.exists() {
            read(&file)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| {
                    assert!(
                        !l.starts_with('!') && !l.contains(['?', '[']),
                        "{}: `{l}` is beyond this test's matcher",
                        file.display()
                    );
                    l.trim_matches('/').to_owned()
                })
                .collect()
        } else {
            Vec::new()
        };
        DockerIgnore { patterns }
    }

    /// The pattern that leaves `path` (or a folder holding it) out of the context.
    fn excludes(&self, path: &str) -> Option<&str> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        self.patterns.iter().map(String::as_str).find(|pattern| {
            let pattern: Vec<&str> = pattern.split('/').collect();
            (1..=parts.len()).any(|n| glob(&pattern, &parts[..n]))
        })
    }
}

fn glob(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => glob(&pattern[1..], path) || (!path.is_empty() && glob(pattern, &path[1..])),
        (Some(p), Some(s)) => segment(p, s) && glob(&pattern[1..], &path[1..]),
        _ => false,
    }
}

fn segment(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|skip| {
                    name.is_char_boundary(head.len() + skip) && segment(tail, &name[head.len() + skip..])
                })
        }
    }
}

#[test]
fn the_env_example_names_every_variable_and_holds_placeholders_only() {
    let vars = compose_variables();
    let example = env_file(&root().join(ENV_EXAMPLE));
    let names: BTreeSet<&str> = example.iter().map(|(n, _)| n.as_str()).collect();
    let used: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
    assert_eq!(
        used.difference(&names).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "{ENV_EXAMPLE} must name every variable of {COMPOSE}"
    );
    assert_eq!(
        names.difference(&used).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "{ENV_EXAMPLE} names variables {COMPOSE} never uses"
    );
    let secret = |n: &str| ["PASSWORD", "SECRET", "TOKEN"].iter().any(|s| n.contains(s));
    let secrets: Vec<_> = example.iter().filter(|(n, _)| secret(n)).collect();
    assert!(secrets.len() >= 5, "the five passwords are in the example: {secrets:?}");
    for (name, value) in secrets {
        assert!(
            value.starts_with("change-me"),
            "{ENV_EXAMPLE}: {name} holds a value, not a change-me placeholder"
        );
    }

    // The compose file itself holds no secret: every password comes from a variable.
    let raw = yaml_to_json(&read(&root().join(COMPOSE)));
    for (name, service) in raw["services"].as_object().expect("services") {
        for (key, value) in service.get("environment").and_then(Json::as_object).into_iter().flatten() {
            let value = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            if secret(key) {
                assert!(
                    value.starts_with("${") && value.ends_with('}'),
                    "{name}: {key} is not taken from a variable"
                );
            }
            if let Some((_, after)) = value.split_once("://") {
                if let Some((userinfo, _)) = after.split_once('@') {
                    if let Some((_, password)) = userinfo.split_once(':') {
                        assert!(
                            password.starts_with("${"),
                            "{name}: {key} has a password that is not a variable"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_env_file_and_keys_are_git_ignored_and_none_is_in_the_tree() {
    let git = |args: &[&str]| -> Output {
        Command::new("git")
            .arg("-C")
            .arg(root())
            .args(args)
            .output()
            .expect("running git (the tests check what git ignores; install git)")
    };
    let key_file = env_file(&root().join(ENV_EXAMPLE))
        .into_iter()
        .find(|(n, _)| n == "GOOGLE_CREDENTIALS_FILE")
        .map(|(_, v)| v)
        .expect("GOOGLE_CREDENTIALS_FILE in the example");
    let key_path = Path::new("infra").join(&key_file);
    for path in [Path::new("infra/.env"), key_path.as_path()] {
        let out = git(&["check-ignore", "-q", "--no-index", &path.display().to_string()]);
        assert_eq!(out.status.code(), Some(0), "git does not ignore {}: {}", path.display(), stderr(&out));
    }
    // What is or would be committed under infra/: no env file, no private key.
    let out = git(&["ls-files", "--cached", "--others", "--exclude-standard", "infra", ".dockerignore"]);
    assert!(out.status.success(), "git ls-files: {}", stderr(&out));
    let files = text(&out);
    assert!(files.lines().any(|f| f == "infra/docker-compose.yml"), "git ls-files listed {files}");
    for file in files.lines() {
        assert!(!file.ends_with("/.env") && file != "infra/.env", "{file} would be committed");
        let content =
            String::from_utf8_lossy(&std::fs::read(root().join(file)).unwrap_or_default()).into_owned();
        assert!(
            !content.contains("BEGIN PRIVATE KEY") && !content.contains("BEGIN RSA PRIVATE KEY"),
            "{file} holds a private key"
        );
    }
}

/// The files of sql/stack/, in the order they are applied.
fn sql_stack_files() -> Vec<String> {
    let dir = root().join("sql/stack");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no SQL in {}", dir.display());
    files
}

#[test]
fn the_custom_image_copies_the_whole_sql_stack_folder_where_its_init_reads_it() {
    let dockerfile = read(&root().join("infra/docker/custom-postgres/Dockerfile"));
    let script = read(&root().join("infra/docker/custom-postgres/stack-init.sh"));
    let copy = dockerfile
        .lines()
        .find(|l| l.starts_with("COPY sql/stack"))
        .expect("the custom image copies sql/stack");
    let words: Vec<&str> = copy.split_whitespace().collect();
    assert_eq!(words[1], "sql/stack/", "the whole folder, so that a new file cannot be left out: {copy}");
    let destination = words[2].trim_end_matches('/');
    assert!(
        script.contains(&format!("sql_dir=${{STACK_SQL_DIR:-{destination}}}")),
        "stack-init.sh reads the SQL from {destination} by default"
    );
    // Every file is applied (and says so): the run below checks the list against sql/stack/.
    assert!(
        script.contains("-name '*.sql'") && script.contains("say \"applied"),
        "stack-init.sh applies every *.sql"
    );
    assert!(
        dockerfile.contains("/docker-entrypoint-initdb.d/"),
        "the entrypoint runs stack-init.sh on the first start"
    );
}

fn run_script(script: &str, args: &[&str], env: &[(&str, String)]) -> Output {
    let path = root().join(script);
    let mut cmd = Command::new("bash");
    cmd.arg(&path).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("PG") || name.starts_with("STACK_") || name.starts_with("POSTGRES_") {
            cmd.env_remove(name);
        }
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().unwrap_or_else(|e| panic!("running {script}: {e}"))
}

fn script_ok(script: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let out = run_script(script, args, env);
    assert!(
        out.status.success(),
        "{script} failed ({:?}):\n{}{}",
        out.status.code(),
        text(&out),
        stderr(&out)
    );
    text(&out)
}

/// The environment compose gives `service` (with the example env file). `config` writes a
/// `$` as `$$` (its output is a compose file again); the container gets one.
fn service_env(config: &Json, service: &str) -> BTreeMap<String, String> {
    services(config)[service]["environment"]
        .as_object()
        .unwrap_or_else(|| panic!("{service} has an environment"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map(|v| v.replace("$$", "$")).unwrap_or_else(|| v.to_string())))
        .collect()
}

#[test]
fn the_custom_init_builds_the_stack_on_throwaway_clusters_and_the_demo_pair_syncs_it() {
    let config = config();
    let custom_env = service_env(&config, "custom");
    let origin_env = service_env(&config, "origin");
    let files = sql_stack_files();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");

    // The origin: the example data, then the read-only login its init script makes, which
    // must give a password over TCP (postgres_fdw refuses a non-superuser mapping otherwise).
    let origin = LocalCluster::start().expect("starting the origin cluster");
    runtime.block_on(origin.create_database("shop")).expect("creating shop");
    load_examples(&origin.url("shop"));
    let reader_password = "reader-0f9a1c".to_owned();
    let reader = origin_env["ORIGIN_READER_USER"].clone();
    let pg = |c: &LocalCluster, db: &str| {
        vec![
            ("PGHOST", "127.0.0.1".to_owned()),
            ("PGPORT", c.port().to_string()),
            ("PGUSER", "postgres".to_owned()),
            ("PGDATABASE", db.to_owned()),
        ]
    };
    let mut env = pg(&origin, "shop");
    env.push(("ORIGIN_READER_USER", reader.clone()));
    env.push(("ORIGIN_READER_PASSWORD", reader_password.clone()));
    env.push(("ORIGIN_SCHEMA", origin_env["ORIGIN_SCHEMA"].clone()));
    let said = script_ok("infra/docker/origin/reader.sh", &[], &env);
    assert!(said.contains(&format!("{reader} may read schema shop")), "{said}");
    require_password(&origin, &reader);
    let as_reader = format!("postgres://{reader}:{reader_password}@127.0.0.1:{}/shop", origin.port());
    assert_eq!(psql(&as_reader, "SELECT count(*) FROM shop.orders"), "40");
    let write = Command::new("psql")
        .args([&as_reader, "-X", "-c", "DELETE FROM shop.orders"])
        .output()
        .expect("running psql");
    assert!(
        !write.status.success() && stderr(&write).contains("permission denied"),
        "the reader may not write"
    );
    let wrong = Command::new("psql")
        .args([
            &format!("postgres://{reader}:wrong@127.0.0.1:{}/shop", origin.port()),
            "-X",
            "-c",
            "SELECT 1",
        ])
        .output()
        .expect("running psql");
    assert!(stderr(&wrong).contains("password authentication failed"), "{}", stderr(&wrong));

    // The custom cluster as the image configures it (its CMD's settings).
    let dockerfile = read(&root().join("infra/docker/custom-postgres/Dockerfile"));
    let settings: Vec<String> = [
        "shared_preload_libraries",
        "cron.database_name",
        "cron.use_background_workers",
        "max_worker_processes",
    ]
    .iter()
    .map(|name| {
        let at =
            dockerfile.find(&format!("\"{name}=")).unwrap_or_else(|| panic!("the image's CMD sets {name}"));
        let value = dockerfile[at + name.len() + 2..].split('"').next().expect("a value");
        format!("{name} = '{value}'")
    })
    .collect();
    let db = settings[1].split('\'').nth(1).expect("cron.database_name").to_owned();
    assert!(dockerfile.contains(&format!("ENV POSTGRES_DB={db}")), "the entrypoint's database is pg_cron's");
    let custom = LocalCluster::start_with(&LocalOptions { settings, ..LocalOptions::default() })
        .expect("starting the custom cluster (pg_cron: apt-get install postgresql-15-cron)");
    runtime.block_on(custom.create_database(&db)).expect("creating the custom database");

    // The init script, with the environment compose gives the container (but the origin is
    // here, not at origin:5432, and the SQL is read from the checkout).
    let mut env = pg(&custom, &db);
    for (name, value) in &custom_env {
        if name.starts_with("STACK_") || name.ends_with("_PASSWORD") {
            env.push((name.as_str(), value.clone()));
        }
    }
    set_var(&mut env, "STACK_ORIGIN_HOST", "127.0.0.1".into());
    set_var(&mut env, "STACK_ORIGIN_PORT", origin.port().to_string());
    set_var(&mut env, "STACK_ORIGIN_PASSWORD", reader_password.clone());
    set_var(&mut env, "SHEETBRIDGE_DB_PASSWORD", "sheetbridge-5e1d".into());
    set_var(&mut env, "AUTHENTICATOR_PASSWORD", "authenticator-77c2".into());
    set_var(&mut env, "STACK_SQL_DIR", root().join("sql/stack").display().to_string());

    // The example's placeholders are refused before anything is done.
    let mut placeholder = env.clone();
    set_var(&mut placeholder, "AUTHENTICATOR_PASSWORD", custom_env["AUTHENTICATOR_PASSWORD"].clone());
    let refused = run_script("infra/docker/custom-postgres/stack-init.sh", &[], &placeholder);
    assert!(!refused.status.success(), "the placeholder password was accepted");
    assert!(
        stderr(&refused).contains("AUTHENTICATOR_PASSWORD is still the placeholder"),
        "{}",
        stderr(&refused)
    );
    assert!(!text(&refused).contains("applied"), "nothing is applied before the check");

    let said = script_ok("infra/docker/custom-postgres/stack-init.sh", &[], &env);
    let applied: Vec<&str> =
        said.lines().filter_map(|l| l.strip_prefix("sheetbridge-stack-init: applied ")).collect();
    assert_eq!(applied, files, "every file of sql/stack/, in name order");
    for secret in [&reader_password, "sheetbridge-5e1d", "authenticator-77c2"] {
        assert!(!said.contains(secret), "the init printed a password:\n{said}");
    }

    let url = custom.url(&db);
    assert_eq!(
        psql(&url, "SELECT string_agg(rolname, ' ' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('sheetbridge', 'sheetbridge_refresh', 'authenticator', 'web_anon')"),
        "authenticator sheetbridge sheetbridge_refresh web_anon"
    );
    assert_eq!(
        psql(&url, "SELECT string_agg(rolname || ' ' || left(rolpassword, 14), ', ' ORDER BY rolname) FROM pg_authid WHERE rolname IN ('sheetbridge', 'authenticator')"),
        "authenticator SCRAM-SHA-256$, sheetbridge SCRAM-SHA-256$"
    );
    assert_eq!(
        psql(&url, "SELECT srvname || ' ' || array_to_string(srvoptions, ',') FROM pg_foreign_server"),
        format!("origin host=127.0.0.1,port={},dbname=shop", origin.port())
    );
    assert_eq!(
        psql(
            &url,
            "SELECT string_agg(usename, ' ' ORDER BY usename) FROM pg_user_mappings WHERE srvname = 'origin'"
        ),
        "postgres sheetbridge_refresh"
    );
    assert_eq!(
        psql(&url, "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'origin' AND c.relkind = 'f'"),
        "customers orders",
        "imported by {}",
        custom_env["STACK_IMPORT_INCLUDE"]
    );
    for table in ["shop.customers", "shop.orders"] {
        assert_eq!(
            dump(&url, table),
            dump(&origin.url("shop"), table),
            "the local copy {table} holds the origin's rows"
        );
    }
    let jobs = "SELECT string_agg(jobname || ' | ' || schedule || ' | ' || username, E'\\n' ORDER BY jobname) FROM cron.job";
    let expected_jobs = "refresh shop.customers | * * * * * | sheetbridge_refresh\nrefresh shop.orders | * * * * * | sheetbridge_refresh";
    assert_eq!(psql(&url, jobs), expected_jobs);
    let may = |table: &str, what: &str| {
        psql(&url, &format!("SELECT has_table_privilege('sheetbridge', '{table}', '{what}')"))
    };
    assert_eq!(may("shop.orders", "UPDATE"), "t", "STACK_PAIR_TABLES is granted to sheetbridge");
    assert_eq!(may("shop.customers", "SELECT"), "f", "a copy that is no pair's table is not");
    assert_eq!(may("origin.orders", "SELECT"), "f", "nor is a foreign table");

    // Again, as after an upgrade: nothing doubles, nothing breaks.
    let again = script_ok("infra/docker/custom-postgres/stack-init.sh", &[], &env);
    assert_eq!(again.lines().filter(|l| l.contains(": applied ")).count(), files.len());
    assert_eq!(psql(&url, jobs), expected_jobs);
    assert_eq!(psql(&url, "SELECT count(*) FROM shop.orders"), "40");

    // What pg_cron runs, as the role it runs it as, after a change at the origin. pg_cron itself
    // may run the job at the same moment (it is scheduled every minute): between the two, the
    // change is written once and every refresh succeeds.
    let before = psql(&url, "SELECT coalesce(max(id), 0) FROM sheetbridge.refresh_log");
    psql(&origin.url("shop"), "UPDATE shop.orders SET notes = 'changed at the origin' WHERE id = 3");
    let command = psql(&url, "SELECT command FROM cron.job WHERE jobname = 'refresh shop.orders'");
    let as_refresh = format!("postgres://sheetbridge_refresh@127.0.0.1:{}/{db}", custom.port());
    psql(&as_refresh, &command);
    assert_eq!(psql(&url, "SELECT notes FROM shop.orders WHERE id = 3"), "changed at the origin");
    assert_eq!(
        psql(
            &url,
            &format!(
                "SELECT bool_and(status = 'success') || ' ' || sum(updated) FROM sheetbridge.refresh_log \
                 WHERE target = 'shop.orders' AND id > {before}"
            )
        ),
        "true 1"
    );

    sync_the_demo_pair(&config, &custom, &db);
}

/// Sets `name` in an environment list, replacing what it held.
fn set_var<'a>(env: &mut Vec<(&'a str, String)>, name: &'a str, value: String) {
    env.retain(|(n, _)| *n != name);
    env.push((name, value));
}

/// The origin asks `role` for its password over TCP (LocalCluster trusts everyone).
fn require_password(origin: &LocalCluster, role: &str) {
    let hba = origin.dir().join("data/pg_hba.conf");
    let old = read(&hba);
    std::fs::write(&hba, format!("host all {role} 127.0.0.1/32 scram-sha-256\n{old}"))
        .expect("writing pg_hba.conf");
    psql(&origin.url("postgres"), "SELECT pg_reload_conf()");
    // The reload is asynchronous: wait until a login without the password is refused.
    for _ in 0..50 {
        let out = Command::new("psql")
            .args([
                &format!("postgres://{role}@127.0.0.1:{}/shop", origin.port()),
                "-X",
                "-w",
                "-c",
                "SELECT 1",
            ])
            .output()
            .expect("running psql");
        if !out.status.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the origin still lets {role} in without a password");
}

/// The emulator service's set-up (a key made by make-demo-key.sh, seed-demo.sh) on a real
/// emulator, and the demo's sheetbridge.toml synced with the container's environment: the
/// copy reaches the tab, an edit in the tab reaches the copy.
fn sync_the_demo_pair(config: &Json, custom: &LocalCluster, db: &str) {
    let emulator_env = service_env(config, "emulator");
    let sheetbridge_env = service_env(config, "sheetbridge");
    assert!(on_path("curl").is_some(), "seed-demo.sh needs curl (apt-get install curl)");
    let home = tempfile::tempdir().expect("a temporary folder");
    let key = home.path().join("secrets/google-credentials.json");
    let said = script_ok("infra/docker/emulator/make-demo-key.sh", &[&key.display().to_string()], &[]);
    assert!(said.contains("wrote"), "{said}");
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(
        (mode(key.parent().expect("a folder")), mode(&key)),
        (0o700, 0o644),
        "the key's folder is private; the mounted file readable"
    );
    let kept = script_ok("infra/docker/emulator/make-demo-key.sh", &[&key.display().to_string()], &[]);
    assert!(kept.contains("kept"), "an existing key is kept: {kept}");

    let emulator = Emulator::start(Options::default()).expect("starting the Sheets emulator");
    let id = emulator_env["SPREADSHEET_ID"].clone();
    assert_eq!(id, sheetbridge_env["SPREADSHEET_ID"], "the emulator makes the spreadsheet sheetbridge syncs");
    script_ok(
        "infra/docker/emulator/seed-demo.sh",
        &[emulator.base_url()],
        &[("GOOGLE_CREDENTIALS", key.display().to_string()), ("SPREADSHEET_ID", id.clone())],
    );

    let config_file = root().join("infra/docker/sheetbridge/sheetbridge.toml");
    let sheet = read(&config_file)
        .lines()
        .find_map(|l| l.strip_prefix("sheet = \"gsheet://${SPREADSHEET_ID}/"))
        .map(|tab| tab.trim_end_matches('"').to_owned())
        .expect("the demo's pair is a tab of the spreadsheet SPREADSHEET_ID");
    let db_url = format!("postgres://sheetbridge@127.0.0.1:{}/{db}", custom.port());
    let sync = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
        cmd.args(["sync", "--config"]).arg(&config_file).args(["--db", &db_url]);
        for (name, value) in &sheetbridge_env {
            cmd.env(name, value);
        }
        let out = cmd
            .env_remove("SHEETBRIDGE_DB")
            .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS")
            .env("SHEETBRIDGE_GOOGLE_ENDPOINT", emulator.base_url())
            .env("SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE", &key)
            .env("SHEETBRIDGE_NO_PROGRESS", "1")
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path())
            .output()
            .expect("running sheetbridge");
        assert!(
            out.status.success(),
            "sheetbridge sync with the demo's config failed:\n{}{}",
            text(&out),
            stderr(&out)
        );
    };
    sync();
    let tab = sheet;
    let values = emulator.with_sheets(|s| s.values_unformatted(&id, &tab)).expect("reading the demo tab");
    assert_eq!(values.len(), 41, "a header and the 40 orders");
    // The README's loop types into J2 as the notes of order 1.
    let header: Vec<&str> = values[0].iter().map(|v| v.as_str().unwrap_or("")).collect();
    assert_eq!(header.iter().position(|h| *h == "notes"), Some(9), "notes is column J: {header:?}");
    assert_eq!(values[1][0], 1, "row 2 is order 1");
    let cell = format!("{tab}!J2");
    // pg_cron refreshes the copy on whole minutes and would put the origin's notes back: the
    // edit and its check keep clear of the next one.
    let second: f64 =
        psql(&custom.url(db), "SELECT extract(second FROM now())").parse().expect("the clock's seconds");
    if second > 50.0 {
        std::thread::sleep(std::time::Duration::from_secs_f64(62.0 - second));
    }
    emulator
        .with_sheets(|s| s.set_values(&id, &cell, vec![vec!["typed in the sheet".into()]]))
        .expect("editing the demo tab");
    sync();
    assert_eq!(
        psql(&custom.url(db), "SELECT notes FROM shop.orders WHERE id = 1"),
        "typed in the sheet",
        "the edit in {cell} reached the custom database"
    );
}
