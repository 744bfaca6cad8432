//! The AWS templates (infra/cloudformation), their deploy script and parameter
//! files, and PostgREST's Heroku files (infra/heroku).
//!
//! AWS cannot be reached from the test machines, so what can be checked here
//! is checked with the real tools: cfn-lint 1.58 (no error, no warning) on the
//! templates alone and with each parameter file; the stacks' exports and
//! imports read from the templates as cfn-lint's own parser reads them (the
//! short-form tags included); the deploy script's dry run; the scripts the
//! templates carry (the host's user data, the origin's setup task) checked by
//! bash or run against a real Postgres; the sheetbridge.toml meant for the
//! connector's secret checked by `sheetbridge check`; and Heroku's start script
//! run with a stand-in `postgrest` that prints what it was given.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::psql;

/// Every template, in the order `deploy create all` creates them.
const STACKS: [&str; 6] = ["iam", "network", "origin-db", "data-volume", "custom-db", "sheetbridge"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cfn_dir() -> PathBuf {
    repo().join("infra/cloudformation")
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// cfn-lint from PATH (CI puts .ci/test's venv there), else from that venv.
fn cfn_lint() -> &'static Path {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND.get_or_init(|| {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join("cfn-lint")).find(|p| p.is_file()));
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
        let venv = cache.map(|c| c.join("sheetbridge-ci/venv/bin/cfn-lint")).filter(|p| p.is_file());
        match on_path.flatten().or(venv) {
            Some(p) => p,
            None => panic!(
                "cfn-lint is not installed (neither on PATH nor in ~/.cache/sheetbridge-ci/venv): .ci/test installs \
                 it with `python3 -m venv ~/.cache/sheetbridge-ci/venv && ~/.cache/sheetbridge-ci/venv/bin/pip \
                 install 'cfn-lint==1.58.*'`"
            ),
        }
    })
}

/// The Python that runs cfn-lint, which can import cfnlint (its YAML parser) and yaml.
fn python() -> PathBuf {
    let beside = cfn_lint().parent().map(|d| d.join("python3"));
    match beside.filter(|p| p.exists()) {
        Some(p) => p,
        None => panic!("no python3 beside {} (cfn-lint should be installed in a venv)", cfn_lint().display()),
    }
}

fn run_python(script: &str, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running cfn-lint's python");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("writing to python");
    let out = child.wait_with_output().expect("python's output");
    assert!(out.status.success(), "python failed:\n{}", text(&out));
    String::from_utf8(out.stdout).expect("utf-8 from python")
}

/// Every template as JSON, read by cfn-lint's own YAML loader (short-form tags
/// such as `!Ref` become `{"Ref": ...}`).
fn templates() -> &'static BTreeMap<String, Value> {
    static TEMPLATES: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let paths: Vec<String> =
            STACKS.iter().map(|s| cfn_dir().join(format!("{s}.yaml")).display().to_string()).collect();
        let args: Vec<&str> = paths.iter().map(String::as_str).collect();
        let json = run_python(
            "import json, sys\nfrom cfnlint.decode import cfn_yaml\n\
             json.dump([cfn_yaml.load(p) for p in sys.argv[1:]], sys.stdout)",
            &args,
            "",
        );
        let list: Vec<Value> = serde_json::from_str(&json).expect("the templates as JSON");
        STACKS.iter().map(|s| s.to_string()).zip(list).collect()
    })
}

fn walk<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    f(v);
    match v {
        Value::Array(items) => items.iter().for_each(|i| walk(i, f)),
        Value::Object(map) => map.values().for_each(|i| walk(i, f)),
        _ => {}
    }
}

/// An export or import name as written: the `Fn::Sub` string, else the JSON.
fn name_of(v: &Value) -> String {
    match v.get("Fn::Sub").and_then(Value::as_str) {
        Some(s) => s.to_owned(),
        None => v.to_string(),
    }
}

fn exports(template: &Value) -> Vec<(String, String)> {
    let outputs = template.get("Outputs").and_then(Value::as_object).cloned().unwrap_or_default();
    outputs
        .iter()
        .filter_map(|(key, o)| o.pointer("/Export/Name").map(|n| (key.clone(), name_of(n))))
        .collect()
}

fn imports(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(template, &mut |v| {
        if let Some(arg) = v.get("Fn::ImportValue") {
            found.push(name_of(arg));
        }
    });
    found
}

#[test]
fn templates_pass_cfn_lint_without_errors_or_warnings() {
    let mut cmd = Command::new(cfn_lint());
    cmd.current_dir(cfn_dir());
    for s in STACKS {
        cmd.arg(format!("{s}.yaml"));
    }
    let out = cmd.output().expect("running cfn-lint");
    // cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
    let code = out.status.code().expect("cfn-lint exited");
    assert!(code & 0b110 == 0, "cfn-lint found errors or warnings (exit {code}):\n{}", text(&out));
    // Every template of the folder is one of the stacks the deploy script knows.
    let mut on_disk: Vec<String> = std::fs::read_dir(cfn_dir())
        .expect("infra/cloudformation")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_owned))
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = STACKS.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(on_disk, known, "templates in infra/cloudformation vs the stacks deploy knows");
}

#[test]
fn every_import_names_an_export_of_a_stack_created_before() {
    let templates = templates();
    let mut exporter: BTreeMap<String, &str> = BTreeMap::new();
    for s in STACKS {
        for (key, name) in exports(&templates[s]) {
            assert!(
                name.starts_with("${EnvironmentName}-"),
                "{s}.yaml output {key} exports `{name}`: export names start with ${{EnvironmentName}}- so two \
                 environments can coexist"
            );
            if let Some(other) = exporter.insert(name.clone(), s) {
                panic!("`{name}` is exported by both {other}.yaml and {s}.yaml");
            }
        }
    }
    let mut count = 0;
    let mut used = BTreeSet::new();
    for (i, s) in STACKS.iter().enumerate() {
        for name in imports(&templates[*s]) {
            count += 1;
            let Some(from) = exporter.get(&name) else {
                panic!(
                    "{s}.yaml imports `{name}`, which no template exports (exports: {:?})",
                    exporter.keys()
                );
            };
            let at = STACKS.iter().position(|x| x == from).expect("a known stack");
            assert!(
                at < i,
                "{s}.yaml imports `{name}` from {from}.yaml, which `deploy create all` creates after it"
            );
            used.insert(name);
        }
    }
    // The stacks really are linked: the custom database alone imports more than ten values.
    assert!(count > 20, "only {count} imports found: the parse of the templates lost them");
    for must in
        ["${EnvironmentName}-DataVolumeId", "${EnvironmentName}-CustomDbHost", "${EnvironmentName}-VpcId"]
    {
        assert!(used.contains(must), "nothing imports {must}");
    }
}

/// What in an Output's value could be a secret itself (not the ARN of one).
fn secret_exposures(template: &Value) -> Vec<String> {
    let params = template.get("Parameters").and_then(Value::as_object).cloned().unwrap_or_default();
    let resources = template.get("Resources").and_then(Value::as_object).cloned().unwrap_or_default();
    let secretish = |name: &str| {
        let lower = name.to_ascii_lowercase();
        ["password", "secret", "token", "privatekey"].iter().any(|w| lower.contains(w))
            && !lower.ends_with("arn")
    };
    let bad_ref = |name: &str| -> Option<String> {
        let name = name.split('.').next().unwrap_or(name);
        if let Some(p) = params.get(name) {
            if p.get("NoEcho").is_some_and(|v| v == &json!(true) || v == &json!("true")) {
                return Some(format!("the NoEcho parameter {name}"));
            }
            if secretish(name) {
                return Some(format!("the parameter {name}"));
            }
        }
        None
    };
    let bad_getatt = |resource: &str, attribute: &str| -> Option<String> {
        let lower = attribute.to_ascii_lowercase();
        if lower.contains("password") || lower.contains("secretstring") {
            return Some(format!("{resource}.{attribute}"));
        }
        let kind = resources.get(resource).and_then(|r| r.get("Type")).and_then(Value::as_str);
        (kind == Some("AWS::SecretsManager::Secret") && attribute != "Id")
            .then(|| format!("{resource}.{attribute} of a secret"))
    };
    let mut found = Vec::new();
    let outputs = template.get("Outputs").and_then(Value::as_object).cloned().unwrap_or_default();
    for (key, output) in &outputs {
        if key.to_ascii_lowercase().contains("password") {
            found.push(format!("output {key}: its name says it is a password"));
        }
        let Some(value) = output.get("Value") else { continue };
        walk(value, &mut |v| {
            let mut why = Vec::new();
            if let Some(s) = v.as_str() {
                if s.contains("{{resolve:") {
                    why.push(format!("a dynamic reference in `{s}`"));
                }
            }
            if let Some(name) = v.get("Ref").and_then(Value::as_str) {
                why.extend(bad_ref(name));
            }
            if let Some(att) = v.get("Fn::GetAtt") {
                let (r, a) = match att {
                    Value::Array(p) if p.len() == 2 => (
                        p[0].as_str().unwrap_or_default().to_owned(),
                        p[1].as_str().unwrap_or_default().to_owned(),
                    ),
                    Value::String(s) => match s.split_once('.') {
                        Some((r, a)) => (r.to_owned(), a.to_owned()),
                        None => (s.clone(), String::new()),
                    },
                    _ => (String::new(), String::new()),
                };
                why.extend(bad_getatt(&r, &a));
            }
            let sub = match v.get("Fn::Sub") {
                Some(Value::String(s)) => Some(s.as_str()),
                Some(Value::Array(p)) => p.first().and_then(Value::as_str),
                _ => None,
            };
            if let Some(s) = sub {
                for var in s.split("${").skip(1).filter_map(|rest| rest.split_once('}').map(|(v, _)| v)) {
                    if var.starts_with('!') {
                        continue;
                    }
                    why.extend(bad_ref(var));
                    if let Some((r, a)) = var.split_once('.') {
                        why.extend(bad_getatt(r, a));
                    }
                }
            }
            found.extend(why.into_iter().map(|w| format!("output {key}: {w}")));
        });
    }
    found
}

#[test]
fn no_output_exposes_a_password_or_secret_value() {
    // The check itself finds each kind of leak.
    let leaky = json!({
        "Parameters": { "DbPassword": { "Type": "String", "NoEcho": true }, "ApiToken": { "Type": "String" } },
        "Resources": { "S": { "Type": "AWS::SecretsManager::Secret" } },
        "Outputs": {
            "A": { "Value": { "Ref": "DbPassword" } },
            "B": { "Value": "{{resolve:secretsmanager:s:SecretString:password}}" },
            "C": { "Value": { "Fn::Sub": "postgres://u:${ApiToken}@h/db" } },
            "MasterPassword": { "Value": "x" },
            "Fine": { "Value": { "Ref": "S" } }
        }
    });
    let found = secret_exposures(&leaky);
    assert_eq!(found.len(), 4, "the leak check should flag A, B, C and MasterPassword: {found:#?}");
    assert!(!found.iter().any(|f| f.contains("Fine")), "a secret's ARN is not its value: {found:#?}");

    let mut arns = 0;
    for s in STACKS {
        let t = &templates()[s];
        let found = secret_exposures(t);
        assert!(found.is_empty(), "{s}.yaml: {found:#?}");
        arns += t["Outputs"].as_object().map_or(0, |o| o.keys().filter(|k| k.ends_with("SecretArn")).count());
    }
    // The secrets are handed on by ARN, which the checks above let through.
    assert!(arns >= 5, "only {arns} outputs of secret ARNs");
}

/// `eu-west-1`, `us-east-2b` and the like.
fn region_or_zone_names(s: &str) -> Vec<String> {
    const PREFIXES: [&str; 10] = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn"];
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|token| {
            let parts: Vec<&str> = token.split('-').collect();
            parts.len() == 3
                && PREFIXES.contains(&parts[0])
                && !parts[1].is_empty()
                && parts[1].chars().all(|c| c.is_ascii_lowercase())
                && parts[2].trim_end_matches(|c: char| c.is_ascii_lowercase()).parse::<u32>().is_ok()
                && parts[2].len() <= 2
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_region_or_zone_is_written_into_a_template() {
    assert_eq!(region_or_zone_names("arn:aws:ecr:eu-west-1:1 us-east-2b x-y-1"), ["eu-west-1", "us-east-2b"]);
    for s in STACKS {
        let mut found = Vec::new();
        fn strings(v: &Value, key: &str, found: &mut Vec<String>) {
            match v {
                Value::String(s) if key != "Description" => found.extend(region_or_zone_names(s)),
                Value::Array(items) => items.iter().for_each(|i| strings(i, key, found)),
                Value::Object(map) => map.iter().for_each(|(k, i)| strings(i, k, found)),
                _ => {}
            }
        }
        strings(&templates()[s], "", &mut found);
        assert!(
            found.is_empty(),
            "{s}.yaml names regions or zones: {found:?} (use parameters or AWS::Region)"
        );
    }
}

fn parameter_file(stack: &str) -> Vec<(String, String)> {
    let path = cfn_dir().join(format!("parameters/{stack}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let entries = v.as_array().unwrap_or_else(|| panic!("{}: not a JSON array", path.display()));
    entries
        .iter()
        .map(|e| {
            let key = e["ParameterKey"].as_str();
            let value = e["ParameterValue"].as_str();
            match (key, value) {
                (Some(k), Some(v)) => (k.to_owned(), v.to_owned()),
                _ => panic!(
                    "{}: {e} is not {{\"ParameterKey\": ..., \"ParameterValue\": ...}}",
                    path.display()
                ),
            }
        })
        .collect()
}

#[test]
fn parameter_files_name_only_declared_parameters_with_allowed_values() {
    let mut patterns: Vec<(String, String, String)> = Vec::new();
    let mut environments = BTreeSet::new();
    for s in STACKS {
        let declared = templates()[s]["Parameters"].as_object().cloned().unwrap_or_default();
        let given = parameter_file(s);
        let mut seen = BTreeSet::new();
        for (key, value) in &given {
            assert!(seen.insert(key.clone()), "parameters/{s}.json gives {key} twice");
            let Some(p) = declared.get(key) else {
                panic!(
                    "parameters/{s}.json gives {key}, which {s}.yaml does not declare ({:?})",
                    declared.keys()
                );
            };
            if let Some(allowed) = p.get("AllowedValues").and_then(Value::as_array) {
                let allowed: Vec<String> =
                    allowed.iter().map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned)).collect();
                assert!(
                    allowed.contains(value),
                    "parameters/{s}.json: {key} = {value:?} is not one of {allowed:?}"
                );
            }
            if let Some(pattern) = p.get("AllowedPattern").and_then(Value::as_str) {
                patterns.push((format!("parameters/{s}.json: {key}"), pattern.to_owned(), value.clone()));
            }
            if key == "EnvironmentName" {
                environments.insert(value.clone());
            }
        }
        for (key, p) in &declared {
            assert!(
                p.get("Default").is_some() || seen.contains(key),
                "parameters/{s}.json must give {key}: {s}.yaml has no default for it"
            );
        }
    }
    assert_eq!(environments.len(), 1, "the parameter files must share one EnvironmentName: {environments:?}");
    // CloudFormation matches AllowedPattern against the whole value.
    let pairs: Vec<(&str, &str)> = patterns.iter().map(|(_, p, v)| (p.as_str(), v.as_str())).collect();
    let verdicts = run_python(
        "import json, re, sys\nprint(json.dumps([re.fullmatch(p, v) is not None for p, v in json.load(sys.stdin)]))",
        &[],
        &serde_json::to_string(&pairs).expect("json"),
    );
    let verdicts: Vec<bool> = serde_json::from_str(&verdicts).expect("verdicts");
    assert!(patterns.len() >= 6, "only {} patterned values", patterns.len());
    for ((what, pattern, value), ok) in patterns.iter().zip(verdicts) {
        assert!(ok, "{what} = {value:?} does not match the AllowedPattern {pattern}");
    }
    // cfn-lint resolves each template with its parameter file (types, ranges, allowed
    // values); the six run at once.
    let runs: Vec<_> = STACKS
        .iter()
        .map(|s| {
            let child = Command::new(cfn_lint())
                .current_dir(cfn_dir())
                .args(["--parameter-files", &format!("parameters/{s}.json"), "--", &format!("{s}.yaml")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("running cfn-lint");
            (s, child)
        })
        .collect();
    for (s, child) in runs {
        let out = child.wait_with_output().expect("cfn-lint's output");
        let code = out.status.code().expect("cfn-lint exited");
        assert!(
            code & 0b110 == 0,
            "cfn-lint on {s}.yaml with parameters/{s}.json (exit {code}):\n{}",
            text(&out)
        );
    }
}

/// The deploy script with `args`, from `cwd`, with an `aws` on PATH that
/// records any call: a dry run must make none.
fn deploy(cwd: &Path, args: &[&str]) -> (Output, bool) {
    let fake = tempfile::tempdir().expect("a temp dir");
    let marker = fake.path().join("aws-was-called");
    let aws = fake.path().join("aws");
    std::fs::write(&aws, format!("#!/bin/sh\ntouch '{}'\nexit 99\n", marker.display())).expect("fake aws");
    std::fs::set_permissions(&aws, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let path = format!("{}:{}", fake.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(cfn_dir().join("deploy"))
        .current_dir(cwd)
        .args(args)
        .env("PATH", path)
        .output()
        .expect("deploy");
    (out, marker.exists())
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn deploy_dry_run_prints_the_aws_commands_in_order() {
    let env =
        parameter_file("iam").into_iter().find(|(k, _)| k == "EnvironmentName").expect("EnvironmentName").1;
    let (out, called) = deploy(&repo(), &["--dry-run", "--region", "eu-west-1", "create", "all"]);
    assert!(out.status.success(), "deploy --dry-run create all:\n{}", text(&out));
    assert!(!called, "a dry run called aws");
    let mut expected = Vec::new();
    for s in STACKS {
        let caps = if s == "iam" { "CAPABILITY_NAMED_IAM" } else { "CAPABILITY_IAM" };
        expected.push(format!(
            "aws cloudformation create-stack --stack-name {env}-{s} --template-body file://{s}.yaml \
             --parameters file://parameters/{s}.json --capabilities {caps} \
             --tags Key=sheetbridge:environment,Value={env} Key=sheetbridge:stack,Value={s} --region eu-west-1"
        ));
        expected.push(format!(
            "aws cloudformation wait stack-create-complete --stack-name {env}-{s} --region eu-west-1"
        ));
    }
    assert_eq!(stdout_lines(&out), expected);

    // Deletion goes the other way round; --no-wait leaves the waiters out.
    let (out, called) = deploy(&repo(), &["--dry-run", "--no-wait", "delete", "all"]);
    assert!(out.status.success() && !called, "deploy --dry-run delete all:\n{}", text(&out));
    let expected: Vec<String> = STACKS
        .iter()
        .rev()
        .map(|s| format!("aws cloudformation delete-stack --stack-name {env}-{s}"))
        .collect();
    assert_eq!(stdout_lines(&out), expected);

    let (out, _) = deploy(&repo(), &["--dry-run", "--profile", "ops", "update", "network"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stdout_lines(&out),
        [
            format!(
                "aws cloudformation update-stack --stack-name {env}-network --template-body file://network.yaml \
                 --parameters file://parameters/network.json --capabilities CAPABILITY_IAM \
                 --tags Key=sheetbridge:environment,Value={env} Key=sheetbridge:stack,Value=network --profile ops"
            ),
            format!("aws cloudformation wait stack-update-complete --stack-name {env}-network --profile ops"),
        ]
    );

    // The origin's one-off setup runs the task the origin-db stack defines, in the
    // network's private subnets and the security group the origin admits.
    let (out, called) = deploy(&repo(), &["--dry-run", "origin-setup", "origin-db"]);
    assert!(out.status.success() && !called, "{}", text(&out));
    let lines = stdout_lines(&out);
    let run = lines.iter().find(|l| l.starts_with("aws ecs run-task")).expect("a run-task line");
    assert!(
        run.contains(&format!(
            "--cluster {env}-origin-setup --task-definition {env}-origin-setup --launch-type FARGATE"
        )) && run.contains(&format!("subnets=[<{env}-PrivateSubnet1>,<{env}-PrivateSubnet2>]"))
            && run.contains(&format!("securityGroups=[<{env}-CustomDbSecurityGroup>]")),
        "{run}"
    );
    assert!(lines.iter().any(|l| l.starts_with("aws ecs wait tasks-stopped")), "{lines:#?}");
    let origin = &templates()["origin-db"]["Resources"];
    assert_eq!(
        origin["SetupCluster"]["Properties"]["ClusterName"],
        json!({"Fn::Sub": "${EnvironmentName}-origin-setup"})
    );
    assert_eq!(
        origin["SetupTaskDefinition"]["Properties"]["Family"],
        json!({"Fn::Sub": "${EnvironmentName}-origin-setup"})
    );
}

#[test]
fn deploy_refuses_unknown_stacks_and_parameter_files_without_an_environment() {
    let (out, called) = deploy(&repo(), &["--dry-run", "create", "network", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stdout_lines(&out).is_empty() && !called,
        "nothing runs when a stack is unknown:\n{}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown stack `nope`"), "{}", text(&out));

    // --params is taken from the caller's folder; a file without EnvironmentName stops
    // everything before the first command.
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(dir.path().join("prod")).expect("mkdir");
    std::fs::copy(cfn_dir().join("parameters/network.json"), dir.path().join("prod/network.json"))
        .expect("copy");
    std::fs::write(
        dir.path().join("prod/iam.json"),
        r#"[{"ParameterKey": "OperatorUserName", "ParameterValue": ""}]"#,
    )
    .expect("write");
    let (out, called) = deploy(dir.path(), &["--dry-run", "--params", "prod", "create", "network", "iam"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stdout_lines(&out).is_empty() && !called, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("prod/iam.json sets no EnvironmentName"),
        "{}",
        text(&out)
    );

    let (out, _) = deploy(dir.path(), &["--dry-run", "--params", "prod", "create", "network"]);
    assert!(out.status.success(), "{}", text(&out));
    let params = dir.path().join("prod/network.json");
    assert!(
        stdout_lines(&out)[0].contains(&format!("--parameters file://{}", params.display())),
        "{}",
        text(&out)
    );
}

/// A `Fn::Sub` template string with every `${Name}` replaced by a stand-in
/// and `${!x}` unescaped, as CloudFormation would leave it for bash.
fn render_sub(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after.find('}').expect("a closed ${");
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => out.push_str(&format!("${{{literal}}}")),
            None => out.push_str(&format!("stand-in-{}", name.replace([':', '.'], "-"))),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_hosts_user_data_is_bash_that_parses() {
    let data = &templates()["custom-db"]["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        ["UserData"];
    let script = data["Fn::Base64"]["Fn::Sub"][0].as_str().expect("user data is a Fn::Sub of a script");
    let rendered = render_sub(script);
    assert!(rendered.contains("ECS_CLUSTER=stand-in-Cluster"), "{rendered}");
    assert!(rendered.contains("Amazon_Elastic_Block_Store_${volume//-/}"), "{rendered}");
    let mut child =
        Command::new("bash").arg("-n").stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("bash");
    child.stdin.take().expect("stdin").write_all(rendered.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("bash -n");
    assert!(out.status.success(), "the user data does not parse:\n{}\n{rendered}", text(&out));
    // The mount is made before the agent may join the cluster.
    let mount = rendered.find("mount /data").expect("a mount");
    let join = rendered.find("ECS_CLUSTER=").expect("the cluster's name");
    assert!(mount < join, "the host joins the cluster before its data directory is mounted");
}

#[test]
fn the_origin_setup_task_makes_a_read_only_login_and_can_run_again() {
    let container = &templates()["origin-db"]["Resources"]["SetupTaskDefinition"]["Properties"]
        ["ContainerDefinitions"][0];
    assert_eq!(container["EntryPoint"], json!(["bash", "-c"]));
    let script = container["Command"][0].as_str().expect("the setup script");

    let url = crate::fresh_db();
    let reader = format!("sheetbridge_reader_{}", std::process::id());
    psql(&url, "CREATE SCHEMA shop; CREATE TABLE shop.orders (id int PRIMARY KEY); INSERT INTO shop.orders VALUES (1)");
    let facts = psql(
        &url,
        "SELECT current_user, current_database(), current_setting('port'), \
         split_part(current_setting('unix_socket_directories'), ',', 1)",
    );
    let f: Vec<&str> = facts.split('|').collect();
    let run = || {
        Command::new("bash")
            .args(["-c", script])
            .env("PGUSER", f[0])
            .env("PGDATABASE", f[1])
            .env("PGPORT", f[2])
            .env("PGHOST", f[3])
            .env("READER_USER", &reader)
            .env("READER_PASSWORD", "Generated0Letters1And2Digits3")
            .env("READER_SCHEMA", "shop")
            .output()
            .expect("bash")
    };
    for attempt in ["first", "second"] {
        let out = run();
        assert!(out.status.success(), "the {attempt} run of the setup failed:\n{}", text(&out));
        assert!(!text(&out).contains("Generated0Letters"), "the password was printed:\n{}", text(&out));
    }
    // A table the owner makes later is readable too (default privileges).
    psql(&url, "CREATE TABLE shop.customers (id int PRIMARY KEY)");
    let q = format!(
        "SELECT r.rolcanlogin, a.rolpassword LIKE 'SCRAM-SHA-256$%', \
         has_table_privilege('{reader}', 'shop.orders', 'SELECT'), \
         has_table_privilege('{reader}', 'shop.customers', 'SELECT'), \
         has_table_privilege('{reader}', 'shop.orders', 'INSERT,UPDATE,DELETE,TRUNCATE') \
         FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = '{reader}'"
    );
    let seen = psql(&url, &q);
    psql(&url, &format!("DROP OWNED BY {reader}; DROP ROLE {reader}"));
    assert_eq!(seen, "t|t|t|t|f", "login, password, SELECT now, SELECT later, no writes");
}

#[test]
fn the_connectors_aws_config_is_valid_for_sheetbridge_check() {
    let config = cfn_dir().join("sheetbridge.aws.toml");
    let check = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
        cmd.args(["check", "--json", "--config"]).arg(&config).env("SHEETBRIDGE_NO_PROGRESS", "1");
        for v in [
            "SHEETBRIDGE_DB",
            "SHEETBRIDGE_CONFIG",
            "SHEETBRIDGE_DB_HOST",
            "SHEETBRIDGE_DB_PORT",
            "SHEETBRIDGE_DB_NAME",
        ] {
            cmd.env_remove(v);
        }
        // Nothing listens on port 1: only the connections may fail.
        cmd.env("SHEETBRIDGE_GOOGLE_ENDPOINT", "http://127.0.0.1:1");
        cmd.env("SHEETBRIDGE_GOOGLE_CREDENTIALS", r#"{"type": "service_account"}"#);
        cmd.envs(env.iter().copied());
        let out = cmd.output().expect("sheetbridge check");
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", text(&out)));
        let kinds: Vec<String> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["kind"] != "connection")
            .map(|f| f["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        (out.status.code(), kinds)
    };
    // What the sheetbridge task's environment holds.
    let (code, problems) = check(&[
        ("SHEETBRIDGE_DB_HOST", "127.0.0.1"),
        ("SHEETBRIDGE_DB_PORT", "1"),
        ("SHEETBRIDGE_DB_NAME", "app"),
        ("SHEETBRIDGE_DB_PASSWORD", "x"),
    ]);
    assert!(problems.is_empty(), "sheetbridge.aws.toml: {problems:#?}");
    assert_eq!(code, Some(7), "only the connections fail (exit 7)");
    // Without the task's environment, the file says what is missing.
    let (code, problems) = check(&[]);
    assert_eq!(code, Some(3), "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("SHEETBRIDGE_DB_HOST")), "{problems:#?}");
}

fn postgrest_version_of(dockerfile: &Path) -> String {
    let text =
        std::fs::read_to_string(dockerfile).unwrap_or_else(|e| panic!("{}: {e}", dockerfile.display()));
    let from = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("FROM postgrest/postgrest:"))
        .unwrap_or_else(|| panic!("{} has no FROM postgrest/postgrest:VERSION", dockerfile.display()));
    from.split_whitespace().next().unwrap_or_default().to_owned()
}

#[test]
fn heroku_files_parse_and_pin_the_composes_postgrest() {
    let heroku = repo().join("infra/heroku");
    let app: Value =
        serde_json::from_str(&std::fs::read_to_string(heroku.join("app.json")).expect("app.json"))
            .expect("app.json parses");
    assert_eq!(app["stack"], "container", "app.json must ask for the container stack (heroku.yml)");
    for var in ["PGRST_DB_URI", "PGRST_DB_SCHEMAS", "PGRST_DB_ANON_ROLE", "PGRST_JWT_SECRET"] {
        assert!(app["env"].get(var).is_some(), "app.json has no {var}");
    }
    assert_eq!(app["env"]["PGRST_DB_SCHEMAS"]["value"], "sheetbridge_api");
    assert_eq!(app["env"]["PGRST_DB_ANON_ROLE"]["value"], "web_anon");

    let yml = run_python(
        "import json, sys, yaml\njson.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        &[heroku.join("heroku.yml").to_str().expect("utf-8 path")],
        "",
    );
    let yml: Value = serde_json::from_str(&yml).expect("heroku.yml as JSON");
    let dockerfile = yml["build"]["docker"]["web"].as_str().expect("heroku.yml build.docker.web");
    assert!(
        heroku.join(dockerfile).is_file(),
        "heroku.yml builds {dockerfile}, which is not in infra/heroku"
    );
    let docker_text = std::fs::read_to_string(heroku.join(dockerfile)).expect("Dockerfile");
    let web = yml["run"]["web"].as_str().expect("heroku.yml run.web");
    assert!(
        docker_text.contains(&format!("COPY start.sh {web}")),
        "run.web `{web}` is not what the Dockerfile installs"
    );

    // One PostgREST version everywhere: compose's image, Heroku's, and the ECS task's default.
    let compose = postgrest_version_of(&repo().join("infra/docker/postgrest/Dockerfile"));
    assert_eq!(postgrest_version_of(&heroku.join(dockerfile)), compose, "Heroku vs infra/docker/postgrest");
    let ecs = &templates()["custom-db"]["Parameters"]["PostgrestImage"]["Default"];
    assert_eq!(
        ecs,
        &json!(format!("postgrest/postgrest:{compose}")),
        "custom-db.yaml vs infra/docker/postgrest"
    );
    let sample = parameter_file("custom-db")
        .into_iter()
        .find(|(k, _)| k == "PostgrestImage")
        .expect("PostgrestImage")
        .1;
    assert_eq!(sample, format!("postgrest/postgrest:{compose}"), "parameters/custom-db.json");
}

/// Heroku's start script with `env`, a stand-in `postgrest` on PATH that
/// prints the PGRST_* variables it was started with.
fn heroku_start(env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fake = dir.path().join("postgrest");
    std::fs::write(&fake, "#!/bin/sh\nenv | grep '^PGRST_' | sort\n").expect("write");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let mut cmd = Command::new("sh");
    cmd.arg(repo().join("infra/heroku/start.sh"))
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()));
    cmd.envs(env.iter().copied());
    cmd.output().expect("sh start.sh")
}

#[test]
fn heroku_start_maps_database_url_port_and_the_original_names() {
    let out = heroku_start(&[("DATABASE_URL", "postgres://u:pw@ec2.example:5432/d1"), ("PORT", "41234")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stdout_lines(&out),
        [
            "PGRST_DB_ANON_ROLE=web_anon",
            "PGRST_DB_SCHEMAS=sheetbridge_api",
            "PGRST_DB_URI=postgres://u:pw@ec2.example:5432/d1",
            "PGRST_SERVER_PORT=41234",
        ]
    );
    // The original stack's names; PostgREST's own win over them and over DATABASE_URL.
    let out = heroku_start(&[
        ("DB_URI", "postgres://authenticator@db/app"),
        ("DB_SCHEMA", "api"),
        ("DB_ANON_ROLE", "anon"),
        ("DATABASE_URL", "postgres://ignored@h/d"),
        ("PORT", "5000"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stdout_lines(&out),
        [
            "PGRST_DB_ANON_ROLE=anon",
            "PGRST_DB_SCHEMAS=api",
            "PGRST_DB_URI=postgres://authenticator@db/app",
            "PGRST_SERVER_PORT=5000",
        ]
    );
    let out =
        heroku_start(&[("PGRST_DB_URI", "postgres://a@b/c"), ("DB_URI", "postgres://x@y/z"), ("PORT", "1")]);
    assert!(stdout_lines(&out).contains(&"PGRST_DB_URI=postgres://a@b/c".to_owned()), "{}", text(&out));
    // No database at all: a message, and PostgREST is not started.
    let out = heroku_start(&[("PORT", "5000")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout_lines(&out).is_empty(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("set PGRST_DB_URI"), "{}", text(&out));
}
