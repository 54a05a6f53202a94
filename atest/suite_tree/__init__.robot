*** Settings ***
Documentation     One server for a whole suite tree, started in __init__.robot.
...               Under pabot every process runs this setup, so it uses port=0 and the
...               suites ask for the port.

Resource          ../resources/common.resource

Suite Setup       Start Mock SMTP Server    alias=tree
Suite Teardown    Stop Mock SMTP Server
