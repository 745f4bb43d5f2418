<?php
// SimpleSAMLphp 1.19 configuration of one instance of an interop case (the
// IdP or the SP). saml.rs fills in the placeholders; everything the instance
// writes stays in its own directory.
$config = [
    'baseurlpath' => '@BASEURL@',
    'certdir' => '@DIR@/cert/',
    'loggingdir' => '@DIR@/log/',
    'datadir' => '@DIR@/data/',
    'tempdir' => '@DIR@/tmp',
    'metadatadir' => '@DIR@/config/metadata/',
    'attributenamemapdir' => '/usr/share/simplesamlphp/attributemap/',

    'technicalcontact_name' => 'Interop',
    'technicalcontact_email' => 'interop@saml.test',
    'timezone' => 'UTC',
    'secretsalt' => '@SECRET@',
    'auth.adminpassword' => '@SECRET@',
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,
    'trusted.url.domains' => ['@APP_HOST@:8443', 'idp.saml.test:8443'],

    'debug' => ['saml' => false, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'statistics.out' => [],

    'enable.saml20-idp' => @IS_IDP@,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,
    'module.enable' => [
        'exampleauth' => @IS_IDP@,
        'core' => true,
        'saml' => true,
    ],

    'store.type' => 'phpsession',
    'session.duration' => 8 * (60 * 60),
    'session.datastore.timeout' => (4 * 60 * 60),
    'session.state.timeout' => (60 * 60),
    'session.cookie.name' => 'SimpleSAMLSessionID',
    // The IdP's session outlives the browser window (a persistent cookie), so
    // that a browser profile keeps it as people's profiles do.
    'session.cookie.lifetime' => @COOKIE_LIFETIME@,
    'session.cookie.path' => '/',
    'session.cookie.domain' => null,
    'session.cookie.secure' => true,
    // Debian's default (SameSite=None for browsers that understand it)
    // unless the case sets another.
    'session.cookie.samesite' => @SAMESITE@,
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.phpsession.savepath' => '@DIR@/sessions',
    'session.phpsession.httponly' => true,
    'session.authtoken.cookiename' => 'SimpleSAMLAuthToken',
    'session.rememberme.enable' => false,

    'language.available' => ['en'],
    'language.default' => 'en',
    'language.parameter.setcookie' => false,
    'theme.use' => 'default',
    'template.auto_reload' => false,
    'production' => true,
];
